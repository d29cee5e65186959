// Package sandbox is a local PortOne V2 and V1: their REST APIs, their webhooks and their
// browser checkouts, in memory, served by Handler. Tests serve it with
// httptest; cmd/portone-sandbox serves it for development.
//
//	sb, _ := sandbox.New(sandbox.Config{WebhookURL: appURL + "/webhooks/portone", WebhookSecrets: []string{secret}})
//	defer sb.Close()
//	srv := httptest.NewServer(sb.Handler())
//	gw, _ := portone.New(portone.Config{BaseURL: srv.URL, APISecret: sb.APISecret, StoreID: sb.StoreID})
//	sb.Pay("ord-1", sandbox.PaidWith{Total: 10000, OrderName: "100 credits"}) // PAID, Transaction.Paid delivered
//
// # PortOne's REST API
//
// Authorization: PortOne <APISecret>, else 401 UNAUTHORIZED; a storeId
// other than StoreID gets 403 FORBIDDEN. Bodies are read as JSON whatever
// the Content-Type; GETs take theirs in the requestBody query parameter
// too. Errors are PortOne's {type, message} with its status codes. Ids are
// URL-escaped path segments (%2F included).
//
//	GET  /payments/{id}               the payment in the shape of its status (all seven)
//	POST /payments/{id}/pre-register  {totalAmount, currency, taxFreeAmount?}; a later payment of another amount fails
//	POST /payments/{id}/cancel        full or partial, PortOne's 400/404/409 rules, skipWebhook; answers {cancellation}
//	GET  /payments-by-cursor          {from, until, cursor, size}: creation order, opaque cursors
//	GET  /payments                    {page:{number,size}, filter:{storeId, from, until, status[], timestampType, sortOrder}}
//
// POSTs honour Idempotency-Key (an RFC 8941 string, quotes included): a
// repeat of a finished request gets the first answer again, a repeat while
// the first is still being answered gets 409 IDEMPOTENCY_OUTSTANDING_REQUEST.
//
// # PortOne V1's REST API
//
// V1 (iamport) is served under Config.V1Prefix (default /v1compat: V1's
// GET /payments/{imp_uid} would collide with V2's), so a V1 client's base
// URL is Server.V1URL(). Every answer is V1's envelope {code, message,
// response}; amounts are JSON integers (the sandbox's minor units, i.e. won
// for KRW) and times Unix seconds. The payments are the same ones V2 sees:
// merchant_uid is the V2 payment id, imp_uid is Payment.ImpUID. V2 PAID and
// PARTIAL_CANCELLED are paid (with cancel_amount), CANCELLED cancelled,
// FAILED failed, READY and VIRTUAL_ACCOUNT_ISSUED ready (the latter with
// vbank_* fields).
//
//	POST /users/getToken             {imp_key, imp_secret} (V1IMPKey, V1IMPSecret) -> {access_token, expired_at, now};
//	                                 the same token while it lives (V1TokenLifetime, default 30 minutes; asked
//	                                 for in its last minute, 5 minutes more); wrong key or secret: 401 code -1
//	GET  /payments/find/{merchant_uid}, GET /payments/{imp_uid}   the payment; unknown -> 404 code -1
//	POST /payments/prepare           {merchant_uid, amount, currency?}: V2's pre-registration
//	POST /payments/cancel            {imp_uid | merchant_uid, amount? (none or 0: the rest), checksum?, reason}:
//	                                 the payment after it; refusals (checksum, already cancelled, too much,
//	                                 unknown, unpaid) are HTTP 200 with code 1, as V1 answers them
//	GET  /payments/status/{all|ready|paid|cancelled|failed}?page&limit&from&to&sorting
//	                                 {total, previous, next (0 on the last page), list}; from and to (inclusive)
//	                                 apply to the time of each payment's current status
//
// A token is taken as Authorization: Bearer <token>, Authorization: <token>
// or X-ImpTokenHeader; none, an unknown or an expired one gets 401 code -1.
// ExpireV1Tokens (POST /sandbox/v1/tokens/expire) expires every token now.
// The API faults (FailNext, PUT /sandbox/faults, delays) apply to V1 requests
// too, in the same queue, answered as a V1 envelope with code -1. A V1
// cancel sends a webhook only with enable_webhook: true (or "true").
//
// # Webhooks
//
// With a WebhookURL, every change of a payment (VirtualAccountIssued, Paid,
// PayPending, Failed, PartialCancelled, Cancelled) is delivered as PortOne's
// 2024-04-25 body, signed per Standard Webhooks with every WebhookSecrets
// entry: one webhook-id per event, a fresh webhook-timestamp per attempt.
// Attempts follow PortOne's schedule (now, then 1, 4, 16, 64 and 256
// minutes with full jitter, times WebhookRetryScale), stop at a 2xx, and are
// recorded in the payment's webhooks list. Without a WebhookURL nothing is
// sent by itself; SendWebhook and SendWebhookWithID send one by hand.
//
// A payment made through V1 (Payment.Version VersionV1: IMP.request_pay,
// PayV1, PaidWith.Version) announces itself by V1's webhooks instead, and
// V2's API shows it as version V1. A V1 webhook is unsigned,
// {imp_uid, merchant_uid, status[, cancellation_id]} as JSON or, with
// V1WebhookContentType V1WebhookForm, a form, POSTed to the payment's
// notice_url or else V1WebhookURL (SetV1WebhookURL). V1 sends one for: paid
// (status paid), a virtual account issued (ready), its deposit (paid), a
// console cancel, full or partial (cancelled), a V1 API cancel with
// enable_webhook and a V2 API cancel without skipWebhook (cancelled); none
// for a failure (a refusal by pre-registration included) or PAY_PENDING.
// One attempt, or with V1WebhookRetries up to 5 more a minute apart (times
// WebhookRetryScale) after a network error or a 5xx, none after a 4xx.
// Attempts are recorded in the payment's webhooks list as V2's are (an id
// "v1_…" of the sandbox's own: V1 sends none), and the webhook faults
// (drop, duplicate, hold, release) and ResendWebhook apply to them.
// SendV1Webhook and SendV1Notice send one by hand.
//
// # Browser checkout
//
// The browser SDK's requestPayment posts to /checkout, and V1's
// IMP.request_pay (after IMP.init(V1IMPCode)) to /v1/checkout; each opens the
// page it is given in the same payment window (an overlay holding
// iframe#portone-sandbox-window, closed by button#portone-sandbox-close),
// where a person (or a test) picks an outcome (button#pay-card,
// #issue-virtual-account, #pay-fail, #pay-different-amount with
// input#different-amount). No auth, CORS *.
//
//	GET  /v2/browser-sdk.js           the browser SDK (global PortOne)
//	GET  /v1/iamport.js               V1's browser library (global IMP); its header comment is its contract
//	POST /checkout                    requestPayment's argument -> {checkoutId, checkoutUrl}, or 400 {code, message}
//	POST /v1/checkout                 {impCode, params: request_pay's params} -> {checkoutId, checkoutUrl, impUid},
//	                                  or 400 {code, message}: UnknownImpCode for another imp code, InvalidArgument
//	                                  for bad params (merchant_uid up to 256 printable bytes, amount a positive
//	                                  whole number, pay_method like card or vbank, notice_url http(s)), and
//	                                  PaymentAlreadyPaid; the payment is a V1 payment (V1 webhooks, notice_url)
//	GET  /checkout/{checkoutId}       the payment window
//	GET  /checkout/{checkoutId}/details {…, api: "V1"|"V2", impUid (V1)}
//	POST /checkout/{checkoutId}/outcome {"outcome": "card"|"fail"|"virtual-account"|"different-amount", "amount"}
//	                                  -> the SDK's PaymentResponse, or for a V1 checkout V1's rsp: {success: true,
//	                                  imp_uid, merchant_uid, pay_method, paid_amount, status, …} or {success:
//	                                  false, imp_uid, merchant_uid, error_code, error_msg} (error_code the
//	                                  sandbox's: AmountNotEqualToPredefined, CARD_DECLINED)
//
// StartCheckout, StartV1Checkout, CheckoutDetails, CompleteCheckout and
// CompleteV1Checkout do the same in Go.
//
// # Controls (JSON, no auth; each has a Go method of the same behaviour)
//
//	GET    /sandbox/                            a page showing the payments, their history and webhook attempts
//	GET    /sandbox/payments                    {payments: [{payment, history, impUid}]}, newest first
//	POST   /sandbox/payments/{id}/deposit       Deposit: the buyer pays into the virtual account
//	POST   /sandbox/payments/{id}/console-cancel {amount?, reason?}: CancelFromConsole
//	POST   /sandbox/payments/{id}/webhooks/resend  ResendWebhook: the payment's last event again
//	GET    /sandbox/pre-registration            {"enforced": bool}: PreRegistrationEnforced
//	PUT    /sandbox/pre-registration            {"enforced": bool}: EnforcePreRegistration
//	GET    /sandbox/faults                      the faults in force: Faults
//	PUT    /sandbox/faults                      {"api": {failNext, status, latency}, "webhooks": {drop, duplicate, hold}}
//	DELETE /sandbox/faults                      Heal: every fault off, held webhooks released
//	POST   /sandbox/webhooks/release            {"order": "sent"|"reverse"}: ReleaseWebhooks
//	POST   /sandbox/reset                       Reset: no payments, no faults
//	POST   /sandbox/v1/tokens/expire            ExpireV1Tokens: every V1 access token expires now
//
// Payments change when the API, a checkout or a Go method says so: Ready,
// Pay, PayV1, PayPending, IssueVirtualAccount, Deposit, Fail,
// CancelFromConsole, SetPayment (no webhook) and SetRawPayment (a
// hand-written body); PaidWith.Version makes any of them a V1 payment.
// SetWebhookURL and SetV1WebhookURL move the webhooks. API
// faults: FailNext, FailNextRaw, Delay, DelayNext; webhook faults:
// DropWebhooks, DuplicateWebhooks, HoldWebhooks, ReleaseWebhooks. Requests
// and CancelRequests show what the API received.
//
// Every method is safe to call from any goroutine. Memory is bounded: the
// request log, idempotency keys, checkouts, queued and held webhooks and
// each payment's webhook log keep the newest entries only.
package sandbox
