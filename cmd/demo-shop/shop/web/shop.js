// The demo shop's page. It talks to the shop's own /api only; the shop holds
// creditd's API key. Every piece of data is put in the page as text
// (textContent), never as HTML.
"use strict";

const $ = (sel) => document.querySelector(sel);

// api calls the shop; a failure throws an Error with the shop's {error, detail}.
async function api(method, path, body) {
  const init = { method, headers: {} };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    throw Object.assign(new Error("The shop cannot be reached"), { code: "network" });
  }
  const data = await res.json().catch(() => ({}));
  if (!res.ok) {
    const err = new Error(data.detail || res.statusText);
    err.code = data.error || String(res.status);
    err.status = res.status;
    throw err;
  }
  return data;
}

// el builds an element: el("li", {class: "x", dataset: {id: 1}}, "text", child).
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "dataset") Object.assign(node.dataset, v);
    else if (k === "onclick") node.addEventListener("click", v);
    else node.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

function say(text, kind) {
  const m = $("#message");
  m.textContent = text;
  m.dataset.kind = kind || "info";
}

// Prices are in the currency's minor unit, as PortOne counts them
// ("10000" KRW, "600" USD is 6.00); floats are fine for display only.
function formatPrice(minor, currency) {
  const fmt = new Intl.NumberFormat("en-US", { style: "currency", currency });
  return fmt.format(Number(minor) / 10 ** fmt.resolvedOptions().maximumFractionDigits);
}

const credits = (n) => `${n} credit${n === "1" || n === 1 ? "" : "s"}`;
// A V2 order has orderName and totalAmount, a V1 order name and amount.
const orderName = (o) => o.orderName || o.name;
const orderAmount = (o) => o.totalAmount ?? o.amount;
const totalCredits = (o) => String(Number(o.credits) + Number(o.bonusCredits || 0));
const when = (iso) => (iso ? new Date(iso).toLocaleString() : "");

// --- data -------------------------------------------------------------------

async function loadMe() {
  const me = await api("GET", "/api/me");
  $("#user").value = me.user;
  const a = me.account;
  $("#balance").textContent = a.available;
  const extra = [];
  if (a.held !== "0") extra.push(`${a.held} held`);
  if (a.debt !== "0") extra.push(`${a.debt} owed`);
  $("#balance-state").textContent = extra.length ? extra.join(" · ") : `Account ${me.accountId}`;
  $("#history").replaceChildren(...me.transactions.map(historyItem));
}

function historyItem(t) {
  const sign = t.type === "GRANT" ? "+" : "−";
  return el("li", { dataset: { type: t.type } },
    el("span", { class: `amount ${sign === "+" ? "in" : "out"}` }, `${sign}${t.amount}`),
    el("span", { class: "what" }, t.reason || t.type.toLowerCase(), el("small", {}, when(t.createdAt))),
    el("span", { class: "after muted" }, `→ ${t.balanceAfter}`));
}

async function loadProducts() {
  const { items } = await api("GET", "/api/products");
  $("#packs").replaceChildren(...items.map((p) =>
    el("article", { class: "pack card", dataset: { productId: p.id } },
      el("h3", {}, p.name),
      el("p", { class: "pack-credits" }, credits(p.credits)),
      p.bonusCredits !== "0" ? el("span", { class: "bonus" }, `+${p.bonusCredits} bonus credits`) : null,
      el("p", { class: "price" }, formatPrice(p.price, p.currency)),
      p.creditValidityDays ? el("p", { class: "muted small" }, `Valid ${p.creditValidityDays} days`) : null,
      el("button", { class: "buy", type: "button", onclick: () => buy(p.id) }, "Buy"))));
  if (!items.length) $("#packs").append(el("p", { class: "muted" }, "No packs on sale."));
}

async function loadOrders() {
  const { items } = await api("GET", "/api/orders");
  $("#orders").replaceChildren(...items.map(orderItem));
  for (const o of items) watchIfOpen(o);
}

function orderItem(o) {
  const va = o.status === "AWAITING_DEPOSIT" && o.virtualAccount;
  const refundable = o.status === "PAID" || o.status === "PARTIALLY_REFUNDED";
  return el("li", { class: "order", dataset: { orderId: o.paymentId, status: o.status } },
    el("div", { class: "order-main" },
      el("span", { class: "what" }, orderName(o),
        el("small", {}, `${when(o.createdAt)} · ${o.paymentId}${o.gateway === "v1" ? " · PortOne V1" : ""}`)),
      el("span", { class: "price" }, formatPrice(orderAmount(o), o.currency)),
      el("span", { class: `status badge ${o.status.toLowerCase()}` }, o.status),
      refundable ? el("button", { class: "refund secondary", type: "button", onclick: () => refund(o.paymentId) }, "Refund") : null),
    va ? el("p", { class: "va small" },
      `Deposit to ${va.bank} ${va.accountNumber} (${va.holder})`,
      va.dueAt ? ` by ${when(va.dueAt)}` : "") : null,
    o.rejection ? el("p", { class: "small muted" }, `Rejected: the payment's ${o.rejection} did not match`) : null,
    o.refundedAmount !== "0" ? el("p", { class: "small muted" }, `Refunded ${formatPrice(o.refundedAmount, o.currency)}`) : null);
}

function showOrder(o) {
  const old = document.querySelector(`#orders [data-order-id="${CSS.escape(o.paymentId)}"]`);
  const fresh = orderItem(o);
  if (old) old.replaceWith(fresh);
  else $("#orders").prepend(fresh);
}

// --- polling: a deposit or a late webhook shows up without reloading ---------

const open = (s) => s === "PENDING" || s === "AWAITING_DEPOSIT";
const watched = new Map(); // paymentId -> time polling stops
const POLL_MS = 2000;
const POLL_FOR_MS = 3 * 60 * 1000;

function watchIfOpen(o, fresh) {
  // A PENDING order left behind long ago will not move: only watch recent ones.
  const recent = Date.now() - new Date(o.updatedAt).getTime() < 10 * 60 * 1000;
  if (open(o.status) && (fresh || recent || o.status === "AWAITING_DEPOSIT") && !watched.has(o.paymentId)) {
    watched.set(o.paymentId, Date.now() + POLL_FOR_MS);
  }
}

async function poll() {
  for (const [id, until] of watched) {
    if (Date.now() > until) { watched.delete(id); continue; }
    try {
      const o = await api("GET", `/api/orders/${encodeURIComponent(id)}`);
      if (open(o.status)) continue;
      watched.delete(id);
      showOrder(o);
      say(outcome(o), o.status === "PAID" ? "ok" : "error");
      await loadMe();
    } catch (e) { /* try again on the next tick */ }
  }
  setTimeout(poll, POLL_MS);
}

// --- actions -----------------------------------------------------------------

function outcome(o, payError) {
  switch (o.status) {
    case "PAID": return `Paid: ${credits(totalCredits(o))} added`;
    case "AWAITING_DEPOSIT": {
      const va = o.virtualAccount || {};
      return `Virtual account issued: deposit ${formatPrice(orderAmount(o), o.currency)} to ${va.bank} ${va.accountNumber}` +
        (va.dueAt ? ` by ${when(va.dueAt)}` : "");
    }
    case "REJECTED": return `Order REJECTED: the payment's ${o.rejection} did not match the order; nothing was charged`;
    default:
      if (payError) return `Payment failed: ${payError}`;
      return o.status === "FAILED" ? "Payment failed" : "Payment pending: waiting for PortOne's confirmation";
  }
}

async function busy(fn) {
  document.body.dataset.busy = "true";
  document.querySelectorAll("button").forEach((b) => (b.disabled = true));
  try {
    await fn();
  } catch (e) {
    say(e.status === 503 ? `${e.message} (creditd is unavailable)` : e.message, "error");
  } finally {
    // Whatever happened, show the balance as creditd has it before saying we are done.
    await loadMe().catch(() => {});
    document.querySelectorAll("button").forEach((b) => (b.disabled = false));
    document.body.dataset.busy = "false";
  }
}

// payV2 pays an order through PortOne V2's SDK; it resolves the failure's
// message, if any.
async function payV2(order, payMethod) {
  const request = {
    storeId: order.storeId, channelKey: order.channelKey, paymentId: order.paymentId,
    orderName: order.orderName, totalAmount: order.totalAmount, currency: order.currency,
    payMethod, customData: order.customData,
  };
  if (payMethod === "VIRTUAL_ACCOUNT") request.virtualAccount = { accountExpiry: { validHours: 72 } };
  if (!window.PortOne) throw new Error("PortOne's SDK did not load");
  const res = await window.PortOne.requestPayment(request);
  return { payError: res && res.code !== undefined ? res.message || res.code : undefined };
}

// payV1 pays an order through PortOne V1's library (iamport.js); it resolves
// the failure's message, if any, and the payment's imp_uid.
function payV1(order, payMethod) {
  return new Promise((resolve, reject) => {
    if (!window.IMP) throw new Error("PortOne V1's library did not load");
    window.IMP.init(order.impCode);
    window.IMP.request_pay({
      pg: order.pg, pay_method: payMethod === "VIRTUAL_ACCOUNT" ? "vbank" : "card",
      merchant_uid: order.merchantUid, name: order.name, amount: order.amount, currency: order.currency,
      custom_data: order.customData,
    }, (rsp) => resolve({
      payError: rsp.success ? undefined : rsp.error_msg || rsp.error_code || "the payment failed",
      impUid: rsp.imp_uid,
    }));
  }).catch((e) => ({ payError: e.message || String(e) }));
}

function buy(productId) {
  return busy(async () => {
    say("Creating your order…");
    const order = await api("POST", "/api/orders", { productId, gateway: $("#gateway").value });
    const payMethod = $("#pay-method").value;
    showOrder(order);
    say("Waiting for PortOne…");

    // The payment window's answer is not authoritative: success or failure,
    // the shop completes the order and creditd asks PortOne what really
    // happened (for V1, the imp_uid tells it where to look).
    let payError, impUid;
    try {
      ({ payError, impUid } = order.gateway === "v1" ? await payV1(order, payMethod) : await payV2(order, payMethod));
    } catch (e) {
      payError = e.message || String(e);
    }
    let done;
    try {
      done = await api("POST", `/api/orders/${encodeURIComponent(order.paymentId)}/complete`, impUid ? { impUid } : undefined);
    } catch (e) {
      watchIfOpen(order, true); // PortOne's webhook settles it in creditd; watch for that
      throw Object.assign(new Error(`${payError ? `Payment failed: ${payError}. ` : ""}Could not confirm the order yet: ${e.message}`), { status: e.status });
    }
    showOrder(done);
    watchIfOpen(done, true);
    say(outcome(done, payError), done.status === "PAID" || done.status === "AWAITING_DEPOSIT" ? "ok" : "error");
  });
}

function spend() {
  return busy(async () => {
    const tx = await api("POST", "/api/spend", { amount: 1, reason: "Dub one minute of video" })
      .catch((e) => {
        if (e.code === "insufficient-credits") e.message = `${e.message}. Buy a pack first.`;
        throw e;
      });
    say(`Spent ${credits(tx.amount)}: Dub one minute of video. ${tx.balanceAfter} left`, "ok");
  });
}

function refund(paymentId) {
  return busy(async () => {
    const id = encodeURIComponent(paymentId);
    const q = await api("GET", `/api/orders/${id}/refund-quote`);
    if (q.refundInProgress) throw new Error("A refund of this order is already waiting for PortOne; try again shortly");
    if (q.refundableAmount === "0") throw new Error("Nothing to refund: this order's credits are spent or refunded");
    say(`Refunding ${formatPrice(q.refundableAmount, q.currency)} for ${credits(q.refundableCredits)}…`);
    const o = await api("POST", `/api/orders/${id}/refunds`, { reason: "Refund asked for in the demo shop", amount: q.refundableAmount });
    showOrder(o);
    say(`Refunded ${formatPrice(q.refundableAmount, q.currency)}: ${credits(q.refundableCredits)} taken back (order ${o.status})`, "ok");
  });
}

async function switchUser(event) {
  event.preventDefault();
  const user = $("#user").value.trim().toLowerCase();
  await busy(async () => {
    await api("POST", "/api/user", { user });
    watched.clear();
    say(`Signed in as ${user}`, "ok");
    await loadOrders(); // busy reloads the balance
  });
}

async function start() {
  $("#user-form").addEventListener("submit", switchUser);
  $("#spend").addEventListener("click", spend);
  try {
    await Promise.all([loadMe(), loadProducts(), loadOrders()]);
  } catch (e) {
    say(`Could not load the shop: ${e.message}`, "error");
  }
  document.body.dataset.ready = "true";
  setTimeout(poll, POLL_MS);
}

start();
