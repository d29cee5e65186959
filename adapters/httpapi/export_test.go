package httpapi

// ProblemSlugs exposes the problem type list to the tests in httpapi_test.
var ProblemSlugs = problemSlugs

// ProblemFor exposes the error table: the status and type an error gets.
func ProblemFor(err error) (status int, slug string, known bool) {
	p, known := problemFor(err, "/")
	return p.Status, p.slug(), known
}
