/*
 * The payment window of the sandbox's browser libraries, shared by browser-sdk.js (V2) and
 * iamport.js (V1). The sandbox serves each library as one script,
 *   (function () { "use strict"; <this file> <the library> })();
 * so nothing here becomes a global.
 *
 * The window is a modal overlay <div id="portone-sandbox-overlay"> (dimmed page, centred card)
 * holding a close button <button id="portone-sandbox-close"> and
 * <iframe id="portone-sandbox-window" src="{checkoutUrl}">, the sandbox's checkout page. That
 * page posts {type: "portone-sandbox-result", result} to this window once the buyer has picked an
 * outcome; messages from any other window or origin are ignored.
 */

// scriptOrigin is the sandbox's origin, from the URL of the script being run (or else the last
// script whose src matches pattern), read at load time.
function scriptOrigin(pattern) {
  var script = document.currentScript;
  if (!script) {
    var all = document.getElementsByTagName("script");
    for (var i = all.length - 1; i >= 0; i--) {
      if (pattern.test(all[i].src)) {
        script = all[i];
        break;
      }
    }
  }
  try {
    return new URL(script.src, location.href).origin;
  } catch (e) {
    return location.origin;
  }
}

// postJSON POSTs body as JSON and resolves {status, json, text}, or {networkError}; it never
// rejects.
function postJSON(url, body) {
  return fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
    credentials: "omit",
  }).then(
    function (res) {
      return res.text().then(function (text) {
        var json = null;
        try {
          json = JSON.parse(text);
        } catch (e) {
          json = null;
        }
        return { status: res.status, json: json, text: text };
      });
    },
    function (err) {
      return { networkError: err };
    },
  );
}

var RESULT_MESSAGE = "portone-sandbox-result";

// Builds the overlay; inline styles only, since the merchant's page does not load our CSS.
function showWindow(checkoutUrl, onClose) {
  var overlay = document.createElement("div");
  overlay.id = "portone-sandbox-overlay";
  overlay.setAttribute("role", "dialog");
  overlay.setAttribute("aria-modal", "true");
  overlay.setAttribute("aria-label", "PortOne sandbox payment window");
  overlay.style.cssText = [
    "position:fixed", "inset:0", "z-index:2147483000", "margin:0", "padding:12px",
    "box-sizing:border-box", "display:flex", "align-items:center", "justify-content:center",
    "background:rgba(17,24,39,0.55)", "backdrop-filter:blur(2px)",
    "font-family:system-ui,-apple-system,'Segoe UI',Roboto,'Noto Sans KR',sans-serif",
  ].join(";");

  var card = document.createElement("div");
  card.style.cssText = [
    "position:relative", "display:flex", "flex-direction:column", "box-sizing:border-box",
    "width:min(480px,100%)", "height:min(720px,100%)", "background:#fff", "border-radius:14px",
    "overflow:hidden", "box-shadow:0 24px 60px rgba(0,0,0,0.35)",
  ].join(";");

  var bar = document.createElement("div");
  bar.style.cssText = [
    "display:flex", "align-items:center", "justify-content:space-between", "flex:none",
    "height:44px", "padding:0 8px 0 16px", "background:#f8fafc", "border-bottom:1px solid #e5e7eb",
    "color:#111827", "font-size:14px", "font-weight:600",
  ].join(";");
  var title = document.createElement("span");
  title.textContent = "PortOne sandbox";
  var close = document.createElement("button");
  close.id = "portone-sandbox-close";
  close.type = "button";
  close.setAttribute("aria-label", "Close the payment window");
  close.title = "Close (cancels the payment)";
  close.textContent = "\u00d7";
  close.style.cssText = [
    "width:32px", "height:32px", "border:0", "border-radius:8px", "background:transparent",
    "color:#4b5563", "font-size:24px", "line-height:32px", "cursor:pointer", "padding:0",
  ].join(";");
  close.addEventListener("click", onClose);
  bar.appendChild(title);
  bar.appendChild(close);

  var iframe = document.createElement("iframe");
  iframe.id = "portone-sandbox-window";
  iframe.title = "PortOne sandbox payment window";
  iframe.src = checkoutUrl;
  iframe.style.cssText = "flex:1;width:100%;border:0;display:block;background:#fff";

  card.appendChild(bar);
  card.appendChild(iframe);
  overlay.appendChild(card);

  var previousOverflow = document.documentElement.style.overflow;
  document.documentElement.style.overflow = "hidden";
  (document.body || document.documentElement).appendChild(overlay);

  return {
    iframe: iframe,
    remove: function () {
      document.documentElement.style.overflow = previousOverflow;
      if (overlay.parentNode) overlay.parentNode.removeChild(overlay);
    },
  };
}

// openPaymentWindow shows the window on rawCheckoutUrl (resolved against base) until the
// checkout page reports an outcome or the buyer closes the window; then it removes the window
// and calls done(result), or done(undefined, true) for the close button. done is called once.
function openPaymentWindow(rawCheckoutUrl, base, done) {
  var checkoutUrl = new URL(rawCheckoutUrl, base);
  var checkoutOrigin = checkoutUrl.origin;
  var settled = false;
  var view;

  function finish(result, closed) {
    if (settled) return;
    settled = true;
    window.removeEventListener("message", onMessage);
    view.remove();
    done(result, closed);
  }

  function onMessage(event) {
    if (event.origin !== checkoutOrigin) return;
    if (event.source !== view.iframe.contentWindow) return;
    var data = event.data;
    if (!data || typeof data !== "object" || data.type !== RESULT_MESSAGE) return;
    finish(data.result);
  }

  view = showWindow(checkoutUrl.href, function () {
    finish(undefined, true);
  });
  window.addEventListener("message", onMessage);
}
