/*
 * PortOne V1's browser library (iamport.js), sandbox edition.
 *
 * Served by cmd/portone-sandbox at GET /v1/iamport.js, after payment-window.js (the window it
 * shares with the V2 SDK) and inside one function with it. A merchant page loads it with
 *   <script src="http://127.0.0.1:PORT/v1/iamport.js"></script>
 * and calls it as it would call the real library (https://cdn.iamport.kr/v1/iamport.js):
 *   IMP.init("imp00000000");             // the store's 가맹점 식별코드 (the sandbox's V1IMPCode)
 *   IMP.request_pay(params, callback);
 * The only global it defines is `IMP`.
 *
 * params: pg, pay_method ("card", "vbank", ...), merchant_uid, name, amount (a number),
 * currency (default KRW), buyer_name, buyer_email, buyer_tel, custom_data, notice_url (this
 * payment's webhook URL) and m_redirect_url. Others are ignored.
 *
 * callback(rsp) gets V1's response object, and the browser's answer is never authoritative: the
 * merchant server must re-read GET /payments/{imp_uid}.
 *   - success: {success: true, imp_uid, merchant_uid, pay_method, paid_amount, status ("paid", or
 *     "ready" for an issued virtual account, with vbank_num, vbank_name, vbank_holder, vbank_date),
 *     name, currency, pg_provider, pg_tid, custom_data, paid_at, ...}
 *   - failure: {success: false, imp_uid (once the window opened), merchant_uid, error_code,
 *     error_msg}. The close button is a failure (error_code "PAY_PROCESS_CANCELED"), and so are
 *     a request the sandbox refuses (error_code "InvalidArgument", or "UnknownImpCode" when
 *     IMP.init named another store) and a window already open.
 *
 * Flow: POST {sandbox origin}/v1/checkout {impCode, params} -> 200 {checkoutId, checkoutUrl,
 * impUid} (else 4xx {code, message}, a failure); the payment window (payment-window.js) on
 * checkoutUrl; its result, which the checkout page answers in V1's shape for a V1 checkout, goes
 * to the callback.
 *
 * Redirect mode: with m_redirect_url the window's outcome (the close button included) navigates
 * the page to
 *   m_redirect_url?imp_uid=…&merchant_uid=…&imp_success=true|false[&error_code=…&error_msg=…]
 * instead of calling the callback (the real library does so on mobile; the sandbox always does).
 * Failures before a window opens still go to the callback, or without one to m_redirect_url.
 */
if (window.IMP && window.IMP.version === "sandbox") {
  return; // loaded twice: keep the first instance (and its open window, if any)
}

var sandboxOrigin = scriptOrigin(/\/v1\/iamport\.js(\?|#|$)/);

var CANCELED_CODE = "PAY_PROCESS_CANCELED";
var CANCELED_MESSAGE = "사용자가 결제를 취소하셨습니다 (the buyer closed the payment window)";

var impCode = null;
var windowOpen = false;

function failure(merchantUid, impUid, code, message) {
  var out = { success: false, merchant_uid: merchantUid, error_code: code, error_msg: message };
  if (impUid) out.imp_uid = impUid;
  return out;
}

// answer hands rsp to the merchant's callback, if it gave one.
function answer(callback, rsp) {
  if (typeof callback === "function") callback(rsp);
}

function redirectTarget(params) {
  if (typeof params.m_redirect_url !== "string" || params.m_redirect_url === "") return null;
  try {
    return new URL(params.m_redirect_url, location.href);
  } catch (e) {
    return null;
  }
}

function redirectWith(target, rsp) {
  var url = new URL(target.href);
  url.searchParams.set("imp_uid", String(rsp.imp_uid || ""));
  url.searchParams.set("merchant_uid", String(rsp.merchant_uid || ""));
  url.searchParams.set("imp_success", rsp.success ? "true" : "false");
  if (!rsp.success) {
    url.searchParams.set("error_code", String(rsp.error_code || ""));
    url.searchParams.set("error_msg", String(rsp.error_msg || ""));
  }
  location.assign(url.href);
}

function init(code) {
  impCode = typeof code === "string" ? code : null;
}

function request_pay(params, callback) {
  if (!params || typeof params !== "object") {
    answer(callback, failure(undefined, undefined, "InvalidArgument", "IMP.request_pay needs a params object"));
    return;
  }
  var merchantUid = params.merchant_uid;
  var redirect = redirectTarget(params);
  // An outcome of the window goes to m_redirect_url when there is one; a failure before it
  // opens goes to the callback, unless there is none to take it.
  function finish(rsp, windowOpened) {
    if (redirect && (windowOpened || typeof callback !== "function")) {
      redirectWith(redirect, rsp);
    } else {
      answer(callback, rsp);
    }
  }
  if (impCode === null) {
    finish(failure(merchantUid, undefined, "InvalidArgument", 'call IMP.init("imp…") with the store\'s code first'));
    return;
  }
  if (params.m_redirect_url !== undefined && !redirect) {
    answer(callback, failure(merchantUid, undefined, "InvalidArgument", "m_redirect_url is not a URL"));
    return;
  }
  if (windowOpen) {
    finish(failure(merchantUid, undefined, "InvalidArgument", "a PortOne sandbox payment window is already open"));
    return;
  }
  windowOpen = true;

  postJSON(sandboxOrigin + "/v1/checkout", { impCode: impCode, params: params }).then(function (res) {
    var json = res.json;
    if (res.networkError) {
      windowOpen = false;
      finish(failure(merchantUid, undefined, "NetworkError",
        "could not reach the PortOne sandbox at " + sandboxOrigin + ": " + String(res.networkError)));
      return;
    }
    if (res.status !== 200 || !json || typeof json.checkoutUrl !== "string") {
      windowOpen = false;
      if (json && typeof json.code === "string") {
        finish(failure(merchantUid, undefined, json.code, String(json.message || "")));
      } else {
        finish(failure(merchantUid, undefined, "NetworkError",
          "the PortOne sandbox answered HTTP " + res.status + " to POST /v1/checkout"));
      }
      return;
    }
    var impUid = json.impUid;
    openPaymentWindow(json.checkoutUrl, sandboxOrigin + "/", function (result, closed) {
      windowOpen = false;
      var rsp;
      if (closed) {
        rsp = failure(merchantUid, impUid, CANCELED_CODE, CANCELED_MESSAGE);
      } else if (!result || typeof result !== "object" || typeof result.success !== "boolean") {
        rsp = failure(merchantUid, impUid, "NetworkError", "the sandbox payment window sent no result");
      } else {
        rsp = result;
      }
      finish(rsp, true);
    });
  });
}

var IMP = {
  version: "sandbox",
  init: init,
  request_pay: request_pay,
};
Object.freeze(IMP);
window.IMP = IMP;
