package app

var VersionFromBuildInfo = versionFromBuildInfo
