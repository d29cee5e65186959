// Placeholder: the real browser SDK replaces this file at merge.
// window.PortOne.requestPayment(request) posts request to /checkout and opens the checkout page.
