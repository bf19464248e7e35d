// The kelviq-mock console. Polls GET /_mock/state once a second while the page is visible
// and calls the /_mock/ control endpoints for its actions. Every value from the mock is
// put into the page as text (textContent, text nodes, attributes), never as markup.
"use strict";

const POLL_MS = 1000;
const TOKEN = document.querySelector('meta[name="kelviq-mock-token"]').content;

// --- Talking to the mock ----------------------------------------------------------------

async function api(method, path, body) {
  const init = { method, headers: { authorization: "Bearer " + TOKEN }, cache: "no-store" };
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch (_) {
    data = null;
  }
  if (!response.ok) {
    throw new Error(describeError(response.status, data));
  }
  return data;
}

// A DRF-style error body ({"detail": ...} or {"field": ["message"]}) as one line.
function describeError(status, data) {
  if (data && typeof data.detail === "string") {
    return status + ": " + data.detail;
  }
  if (data && typeof data === "object") {
    const parts = Object.entries(data).map(([field, messages]) =>
      field + ": " + (Array.isArray(messages) ? messages.join(" ") : String(messages)));
    if (parts.length > 0) {
      return status + ": " + parts.join("; ");
    }
  }
  return "the mock answered " + status;
}

function customerPath(customerId, what) {
  return "/_mock/customers/" + encodeURIComponent(customerId) + "/" + what;
}

// --- Building the page ------------------------------------------------------------------

// An element with attributes (properties for `className`, `hidden`, `dataset`) and
// children (strings become text nodes).
function el(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (name === "className") {
      node.className = value;
    } else if (name === "dataset") {
      Object.assign(node.dataset, value);
    } else if (name === "hidden") {
      node.hidden = value;
    } else {
      node.setAttribute(name, value);
    }
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

function badge(text, kind) {
  return el("span", { className: "badge " + kind }, text);
}

function statusKind(status) {
  if (status >= 500) return "bad";
  if (status >= 400) return "warn";
  return "good";
}

function clock(ms) {
  const at = new Date(ms);
  const pad = (n, width) => String(n).padStart(width, "0");
  return pad(at.getHours(), 2) + ":" + pad(at.getMinutes(), 2) + ":" + pad(at.getSeconds(), 2) +
    "." + pad(at.getMilliseconds(), 3);
}

let noticeTimer = null;

function notify(text, isError) {
  const notice = document.getElementById("notice");
  notice.textContent = text;
  notice.classList.toggle("error", Boolean(isError));
  notice.hidden = false;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => { notice.hidden = true; }, 6000);
}

// Runs an action, reports its outcome (`describe` turns the mock's answer into a
// sentence), and refreshes the page at once.
async function act(describe, action) {
  try {
    const answer = await action();
    notify(typeof describe === "function" ? describe(answer) : describe);
  } catch (error) {
    notify("Could not do it: " + error.message, true);
  }
  await refresh();
}

// --- Customers --------------------------------------------------------------------------

// customer id → its card's parts, so that a refresh updates the text and keeps what the
// user is typing or choosing.
const cards = new Map();

function usageCell(feature) {
  const cell = el("td", { className: "usage" });
  if (feature.usage === null) {
    cell.append(el("span", { className: "muted" }, "—"));
    return cell;
  }
  const text = feature.limit === null
    ? feature.usage + (feature.hasAccess ? " used · no limit" : " used")
    : feature.usage + " / " + feature.limit;
  if (feature.limit !== null) {
    const ratio = feature.limit > 0 ? Math.min(feature.usage / feature.limit, 1) : 1;
    const fill = el("span", { className: "fill" });
    fill.style.width = (ratio * 100).toFixed(1) + "%";
    const level = ratio >= 1 ? "full" : ratio >= 0.8 ? "high" : "ok";
    cell.append(el("span", {
      className: "bar " + level,
      role: "meter",
      "aria-valuemin": "0",
      "aria-valuemax": String(feature.limit),
      "aria-valuenow": String(Math.min(feature.usage, feature.limit)),
      "aria-valuetext": text,
      "aria-label": "Usage of " + feature.featureId,
    }, fill));
  }
  cell.append(el("span", { className: "usage-text" }, text));
  if (feature.resetAt) {
    // "2026-12-01 00:00:00", UTC.
    cell.append(el("span", { className: "reset" }, "resets " + feature.resetAt.slice(0, 16) + " UTC"));
  }
  return cell;
}

function featureRow(feature) {
  return el("tr", { dataset: { feature: feature.featureId } },
    el("th", { scope: "row" }, feature.featureId, " ", el("span", { className: "kind" }, feature.type.toLowerCase())),
    el("td", { className: "access" }, feature.hasAccess ? badge("yes", "good") : badge("no", "muted-badge")),
    usageCell(feature));
}

function setOptions(select, values, labels) {
  const key = values.join("\u0000");
  if (select.dataset.options === key) return;
  const chosen = select.value;
  select.replaceChildren(...values.map((value, i) => el("option", { value }, labels[i])));
  select.dataset.options = key;
  if (values.includes(chosen)) select.value = chosen;
}

function createCard(customerId) {
  const title = el("h3", {}, customerId);
  const who = el("p", { className: "muted who" });
  const plan = el("p", { className: "plan" });
  const features = el("tbody");
  const planSelect = el("select", { name: "plan" });
  const planForm = el("form", { className: "inline-form plan-form" },
    el("label", {}, el("span", {}, "Plan"), planSelect),
    el("button", { type: "submit" }, "Change plan"));
  const featureSelect = el("select", { name: "feature" });
  // Shows the selected feature's usage until the user types (see updateCard).
  const usageInput = el("input", { name: "value", type: "number", min: "0", step: "1", required: "" });
  const resetButton = el("button", { type: "button", className: "secondary" }, "Reset usage");
  const usageForm = el("form", { className: "inline-form usage-form" },
    el("label", {}, el("span", {}, "Feature"), featureSelect),
    el("label", {}, el("span", {}, "Usage"), usageInput),
    el("button", { type: "submit" }, "Set usage"),
    resetButton);
  const table = el("table", { className: "features" },
    el("caption", { className: "visually-hidden" }, "Features of " + customerId),
    el("thead", {}, el("tr", {},
      el("th", { scope: "col" }, "Feature"),
      el("th", { scope: "col" }, "Access"),
      el("th", { scope: "col" }, "Usage"))),
    features);
  const article = el("article", { className: "card", dataset: { customer: customerId } },
    el("header", {}, title, who, plan),
    el("div", { className: "table-scroll" }, table),
    planForm, usageForm);

  // Until the user picks a plan, the select follows the customer's plan.
  planSelect.addEventListener("change", () => { planSelect.dataset.touched = "yes"; });
  planForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const chosen = planSelect.value;
    await act((answer) => answer && answer.changed === false
      ? customerId + " is on plan " + chosen + " already: nothing changed, no webhook sent."
      : "Moved " + customerId + " to plan " + chosen + ".",
    () => api("POST", customerPath(customerId, "plan"), { plan: chosen }));
    delete planSelect.dataset.touched;
  });
  // Until the user types, the usage input follows the selected feature's usage.
  usageInput.addEventListener("input", () => { usageInput.dataset.touched = "yes"; });
  featureSelect.addEventListener("change", () => {
    delete usageInput.dataset.touched;
    showUsage(card);
  });
  const setUsage = async (value) => {
    const feature = featureSelect.value;
    await act((answer) => answer && answer.changed === false
      ? feature + " of " + customerId + " is " + value + " already: nothing changed, no webhook sent."
      : "Set " + feature + " of " + customerId + " to " + value + ".",
    () => api("POST", customerPath(customerId, "usage"), { featureId: feature, value }));
    delete usageInput.dataset.touched;
    showUsage(card);
  };
  usageForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const value = Number(usageInput.value);
    if (!Number.isInteger(value) || value < 0) {
      notify("Usage must be a whole number, 0 or more.", true);
      usageInput.focus();
      return;
    }
    setUsage(value);
  });
  resetButton.addEventListener("click", () => setUsage(0));

  const card = { article, who, plan, features, planSelect, featureSelect, usageForm, usageInput, usage: new Map() };
  return card;
}

// Puts the selected feature's current usage in the usage input, unless the user typed.
function showUsage(card) {
  if (card.usageInput.dataset.touched) return;
  const usage = card.usage.get(card.featureSelect.value);
  card.usageInput.value = usage === undefined ? "" : String(usage);
}

function updateCard(card, customer, plans) {
  const who = [customer.name, customer.email].filter(Boolean).join(" · ");
  card.who.textContent = who || "no name or email";
  const subscriptions = customer.subscriptions;
  if (subscriptions.length === 0) {
    card.plan.replaceChildren("No active subscription");
  } else {
    card.plan.replaceChildren(...subscriptions.flatMap((sub, i) => [
      i > 0 ? " + " : "Plan ",
      el("strong", { className: "plan-name" }, sub.plan),
      " ",
      badge(sub.status, sub.status === "active" ? "good" : "warn"),
    ]));
  }
  card.features.replaceChildren(...customer.features.map(featureRow));
  setOptions(card.planSelect, plans.map((p) => p.identifier), plans.map((p) => p.name + " (" + p.identifier + ")"));
  if (!card.planSelect.dataset.touched && subscriptions.length > 0) {
    card.planSelect.value = subscriptions[0].plan;
  }
  // Only the features of the customer's plans have a usage that can be set.
  const metered = customer.features.filter((f) => f.inPlan && f.usage !== null);
  const ids = metered.map((f) => f.featureId);
  setOptions(card.featureSelect, ids, ids);
  card.usageForm.hidden = ids.length === 0;
  card.usage = new Map(metered.map((f) => [f.featureId, f.usage]));
  showUsage(card);
}

function renderCustomers(state) {
  const container = document.getElementById("customers");
  const seen = new Set();
  for (const customer of state.customers) {
    seen.add(customer.customerId);
    let card = cards.get(customer.customerId);
    if (!card) {
      card = createCard(customer.customerId);
      cards.set(customer.customerId, card);
      container.append(card.article);
    }
    updateCard(card, customer, state.plans);
  }
  for (const [id, card] of cards) {
    if (!seen.has(id)) {
      card.article.remove();
      cards.delete(id);
    }
  }
  const shown = state.customers.length;
  document.getElementById("customers-count").textContent = shown === state.customersTotal
    ? "(" + shown + ")"
    : "(first " + shown + " of " + state.customersTotal + ")";
}

// --- Faults -----------------------------------------------------------------------------

function renderFaults(faults) {
  const items = [];
  if (faults.latencyMs > 0) {
    items.push(el("li", {}, badge("latency", "warn"), " every request waits " + faults.latencyMs + " ms"));
  }
  for (const route of faults.routeLatency) {
    items.push(el("li", {}, badge("latency", "warn"), " " + route.route + " waits " + route.latencyMs + " ms"));
  }
  for (const rule of faults.rules) {
    const scope = rule.route === null ? "every route" : rule.route;
    const how = rule.remaining === null ? "until cleared" : "next " + rule.remaining + " request" + (rule.remaining === 1 ? "" : "s");
    items.push(el("li", {}, badge(rule.fault, "bad"), " " + how + ", " + scope));
  }
  if (faults.random) {
    items.push(el("li", {}, badge("random", "warn"), " random faults are drawn (set in Rust)"));
  }
  if (items.length === 0) {
    items.push(el("li", { className: "muted" }, "No faults: every request is answered normally."));
  }
  document.getElementById("faults-list").replaceChildren(...items);
}

function showFaultFields() {
  const kind = document.getElementById("fault-kind").value;
  for (const field of document.querySelectorAll("#fault-form [data-kinds]")) {
    field.hidden = !field.dataset.kinds.split(" ").includes(kind);
  }
}

function readFault() {
  const kind = document.getElementById("fault-kind").value;
  const number = (id) => Number(document.getElementById(id).value);
  const fault = { kind };
  if (kind === "latency") {
    fault.ms = number("fault-latency");
    return fault;
  }
  if (kind === "status") fault.status = number("fault-status");
  if (kind === "rateLimited") fault.retryAfter = number("fault-retry-after");
  const count = document.getElementById("fault-count").value.trim();
  if (count !== "") fault.count = Number(count);
  return fault;
}

// --- Requests and webhooks --------------------------------------------------------------

function latencyText(ms) {
  if (ms === null) return "…";
  return ms === 0 ? "<1 ms" : ms + " ms";
}

function renderJournal(journal) {
  const rows = journal.entries.map((entry) => {
    const status = entry.outcome === "answered"
      ? badge(String(entry.status), statusKind(entry.status))
      : badge(entry.outcome, entry.outcome === "dropped" ? "bad" : "muted-badge");
    return el("tr", { className: entry.fault ? "faulted" : "" },
      el("td", { className: "time" }, clock(entry.atMs)),
      entry.instance === null
        ? el("td", { className: "instance muted", title: "The client did not name its instance." }, "—")
        : el("td", { className: "instance", title: entry.instance }, entry.instance),
      el("td", {}, entry.method),
      el("td", { className: "path" }, entry.path, " ", el("span", { className: "kind" }, entry.listener)),
      el("td", {}, status),
      el("td", { className: "num" }, latencyText(entry.latencyMs)),
      el("td", {}, entry.fault ? badge(entry.fault, "bad") : ""));
  });
  if (rows.length === 0) {
    rows.push(el("tr", {}, el("td", { colspan: "7", className: "muted" }, "No request yet.")));
  }
  document.querySelector("#journal tbody").replaceChildren(...rows);
  const dropped = journal.dropped > 0 ? ", " + journal.dropped + " older dropped" : "";
  document.getElementById("journal-count").textContent =
    "(newest " + journal.entries.length + " of " + journal.kept + " kept" + dropped + ")";
}

function renderWebhooks(webhooks) {
  document.getElementById("webhook-endpoint").textContent = webhooks.endpoint
    ? "Sent to " + webhooks.endpoint
    : "No webhook endpoint is set: changes are not sent.";
  const outcomeKind = { delivered: "good", pending: "muted-badge", failed: "bad", dropped: "bad" };
  const rows = webhooks.deliveries.map((delivery) => {
    // The outcome, then the last attempt's answer; the count when there were several.
    const last = delivery.attempts[delivery.attempts.length - 1];
    const outcome = el("td", { className: "answer" },
      badge(delivery.outcome, outcomeKind[delivery.outcome] || "muted-badge"));
    if (last) {
      outcome.append(" ",
        last.status === null ? badge("no answer", "bad") : badge(String(last.status), statusKind(last.status)),
        el("span", { className: "answer-text" }, last.answer));
      if (delivery.attempts.length > 1) {
        outcome.append(el("span", { className: "kind" }, delivery.attempts.length + " attempts"));
      }
    } else {
      outcome.append(el("span", { className: "kind" }, "not sent yet"));
    }
    // The event, its customer beneath: two columns fit the side column.
    return el("tr", {},
      el("td", { className: "delivery" },
        el("span", { className: "event" }, delivery.type), " ", el("span", { className: "kind" }, delivery.id),
        el("span", { className: "customer" }, delivery.customerId)),
      outcome);
  });
  if (rows.length === 0) {
    rows.push(el("tr", {}, el("td", { colspan: "2", className: "muted" }, "No delivery yet.")));
  }
  document.querySelector("#webhooks tbody").replaceChildren(...rows);
}

// --- Polling ----------------------------------------------------------------------------

let timer = null;
let refreshing = null;

// The state is a live region: it changes (and is announced) only when the connection does;
// the time of the last update beside it is not announced.
function setConnection(text, ok, updated) {
  const connection = document.getElementById("connection");
  if (connection.textContent !== text) {
    connection.textContent = text;
  }
  connection.parentElement.classList.toggle("offline", !ok);
  document.getElementById("updated").textContent = updated || "";
}

// One refresh at a time: a call while one runs waits for it.
function refresh() {
  if (!refreshing) {
    refreshing = (async () => {
      try {
        const state = await api("GET", "/_mock/state");
        renderCustomers(state);
        renderFaults(state.faults);
        renderJournal(state.journal);
        renderWebhooks(state.webhooks);
        setConnection("Live", true, "· updated " + clock(Date.now()).slice(0, 8));
      } catch (error) {
        setConnection("Cannot reach the mock (" + error.message + "); retrying", false);
      } finally {
        refreshing = null;
      }
    })();
  }
  return refreshing;
}

async function tick() {
  clearTimeout(timer);
  await refresh();
  if (!document.hidden) {
    timer = setTimeout(tick, POLL_MS);
  }
}

document.addEventListener("visibilitychange", () => {
  if (document.hidden) {
    clearTimeout(timer);
    setConnection("Paused while the tab is hidden", true);
  } else {
    tick();
  }
});

document.getElementById("fault-kind").addEventListener("change", showFaultFields);
document.getElementById("fault-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const fault = readFault();
  act("Fault added.", () => api("POST", "/_mock/faults", fault));
});
document.getElementById("clear-faults").addEventListener("click", () =>
  act("Faults cleared.", () => api("DELETE", "/_mock/faults")));

showFaultFields();
tick();
