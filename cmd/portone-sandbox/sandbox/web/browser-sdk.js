/*
 * PortOne browser SDK V2, sandbox edition.
 *
 * Served by cmd/portone-sandbox at GET /v2/browser-sdk.js, after payment-window.js (the window it
 * shares with iamport.js) and inside one function with it. A merchant page loads it with
 *   <script src="http://127.0.0.1:PORT/v2/browser-sdk.js"></script>
 * and calls PortOne.requestPayment(request) exactly as it would call the real SDK
 * (https://cdn.portone.io/v2/browser-sdk.js). The only global it defines is `PortOne`.
 *
 * requestPayment(request) returns a Promise that never rejects for a payment outcome. It resolves:
 *   - success: {transactionType: "PAYMENT", paymentId, txId}
 *   - failure: {transactionType: "PAYMENT", paymentId, txId?, code, message, pgCode?, pgMessage?}
 *   - undefined in redirect mode (the page navigates to redirectUrl instead, as the real SDK does).
 * As with the real SDK, the caller tells the two apart with `response.code !== undefined`, and the
 * browser's answer is never authoritative: the merchant server must re-read GET /payments/{id}.
 *
 * Flow:
 *   1. POST {sandbox origin}/checkout with the request as JSON.
 *        200 {checkoutId, checkoutUrl}  -> go on
 *        400 {code, message}            -> resolve with that failure
 *        network error / other answer   -> resolve with code "NetworkError"
 *   2. Show the payment window (payment-window.js): a modal overlay holding
 *        <iframe id="portone-sandbox-window" src="{checkoutUrl}">
 *      The overlay is <div id="portone-sandbox-overlay">, its close button is
 *      <button id="portone-sandbox-close">.
 *   3. The checkout page posts {type: "portone-sandbox-result", result} to this window; the
 *      overlay is removed and the promise resolves with `result`. Messages from any other
 *      window or origin are ignored.
 *   4. The close button resolves with code "PAY_PROCESS_CANCELED".
 *
 * Only one payment window at a time: a call made while a window is open resolves at once with
 * {code: "InvalidArgument", message: "..."} and leaves the open window alone. (The real SDK's
 * behaviour here is undocumented; InvalidArgument is one of its documented PaymentError codes and
 * the failure shape keeps the "never rejects" contract.)
 *
 * Redirect mode: when windowType.pc === "REDIRECTION" (or, on a mobile device, windowType.mobile
 * === "REDIRECTION") and redirectUrl is set, the window is shown the same way, but the outcome of
 * the window (including the close button) navigates the page to
 *   redirectUrl?paymentId=…&txId=…[&code=…&message=…&pgCode=…&pgMessage=…]
 * and the promise resolves with undefined. Failures that happen before a window opens (bad request,
 * network error, window already open) are still returned through the promise.
 */
if (window.PortOne && window.PortOne.version === "sandbox") {
  return; // loaded twice: keep the first instance (and its open window, if any)
}

// The sandbox's origin, from this script's own URL, fixed at load time.
var sandboxOrigin = scriptOrigin(/\/v2\/browser-sdk\.js(\?|#|$)/);

var CANCELED_MESSAGE = "결제를 취소했습니다 (the buyer closed the payment window)";

var windowOpen = false;

function failure(paymentId, code, message, extra) {
  var out = { transactionType: "PAYMENT", paymentId: paymentId, code: code, message: message };
  if (extra) {
    ["txId", "pgCode", "pgMessage"].forEach(function (k) {
      if (extra[k] !== undefined && extra[k] !== null) out[k] = extra[k];
    });
  }
  return out;
}

// Normalises what the checkout window sent into a PaymentResponse.
function normaliseResult(paymentId, result) {
  if (!result || typeof result !== "object") {
    return failure(paymentId, "NetworkError", "the sandbox payment window sent no result");
  }
  var out = { transactionType: "PAYMENT", paymentId: result.paymentId || paymentId };
  ["txId", "paymentToken", "code", "message", "pgCode", "pgMessage"].forEach(function (k) {
    if (result[k] !== undefined && result[k] !== null) out[k] = result[k];
  });
  return out;
}

function isMobileDevice() {
  if (navigator.userAgentData && typeof navigator.userAgentData.mobile === "boolean") {
    return navigator.userAgentData.mobile;
  }
  return /Mobi|Android|iPhone|iPad|iPod/i.test(navigator.userAgent || "");
}

function redirectTarget(request) {
  if (!request.redirectUrl || typeof request.redirectUrl !== "string") return null;
  var wt = request.windowType || {};
  var mode = isMobileDevice() ? wt.mobile : wt.pc;
  if (mode !== "REDIRECTION") return null;
  try {
    return new URL(request.redirectUrl, location.href);
  } catch (e) {
    return null;
  }
}

function redirectWith(target, response) {
  var url = new URL(target.href);
  ["paymentId", "txId", "code", "message", "pgCode", "pgMessage"].forEach(function (k) {
    if (response[k] !== undefined && response[k] !== null) url.searchParams.set(k, String(response[k]));
  });
  location.assign(url.href);
}

function requestPayment(request) {
  var paymentId = request && typeof request === "object" ? request.paymentId : undefined;
  if (!request || typeof request !== "object") {
    return Promise.resolve(failure(undefined, "InvalidArgument", "requestPayment needs a request object"));
  }
  if (windowOpen) {
    return Promise.resolve(
      failure(paymentId, "InvalidArgument", "a PortOne sandbox payment window is already open"),
    );
  }
  windowOpen = true;

  var body = {
    storeId: request.storeId,
    channelKey: request.channelKey,
    paymentId: request.paymentId,
    orderName: request.orderName,
    totalAmount: request.totalAmount,
    currency: request.currency,
    payMethod: request.payMethod,
    customData: request.customData,
    redirectUrl: request.redirectUrl,
    customer: request.customer,
    windowType: request.windowType,
  };

  return postJSON(sandboxOrigin + "/checkout", body)
    .then(function (answer) {
      if (answer.networkError) {
        windowOpen = false;
        return failure(
          paymentId,
          "NetworkError",
          "could not reach the PortOne sandbox at " + sandboxOrigin + ": " + String(answer.networkError),
        );
      }
      var json = answer.json;
      if (answer.status !== 200 || !json || typeof json.checkoutUrl !== "string") {
        windowOpen = false;
        if (json && typeof json.code === "string") {
          return failure(paymentId, json.code, String(json.message || ""), json);
        }
        return failure(
          paymentId,
          "NetworkError",
          "the PortOne sandbox answered HTTP " + answer.status + " to POST /checkout",
        );
      }
      return openWindow(request, paymentId, json.checkoutUrl);
    });
}

function openWindow(request, paymentId, rawCheckoutUrl) {
  var redirect = redirectTarget(request);
  return new Promise(function (resolve) {
    openPaymentWindow(rawCheckoutUrl, sandboxOrigin + "/", function (result, closed) {
      windowOpen = false;
      var response = closed
        ? failure(paymentId, "PAY_PROCESS_CANCELED", CANCELED_MESSAGE)
        : normaliseResult(paymentId, result);
      if (redirect) {
        resolve(undefined);
        redirectWith(redirect, response);
      } else {
        resolve(response);
      }
    });
  });
}

var PortOne = {
  version: "sandbox",
  requestPayment: requestPayment,
};
Object.freeze(PortOne);
window.PortOne = PortOne;
