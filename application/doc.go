// Package application holds creditd's use cases. Each one owns its unit of
// work and talks to the outside world only through the ports declared here.
// It imports the domain and the standard library, nothing else.
package application
