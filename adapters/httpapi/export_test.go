package httpapi

// ProblemSlugs exposes the problem type list to the tests in httpapi_test.
var ProblemSlugs = problemSlugs
