// Keeps the admin pages in step with the App without a reload. Progressive enhancement only: every
// page is complete without JavaScript, and a manual reload shows the same thing.
//
// The tenant list polls GET /api/admin/tenants and updates each row's state, port and links in
// place. A tenant's page polls its tenant and reloads itself when the tenant changed, so its
// actions, its Open link, events and log lines are the server's own (unless the owner is typing
// in a form).
(function () {
  "use strict";

  var BUSY = ["provisioning", "starting", "stopping", "deleting"];
  var FAST = 1000; // while something is on its way
  var SLOW = 4000; // while nothing is
  var HIDDEN = 15000; // while the tab is in the background

  function later(fn, busy) {
    window.setTimeout(fn, document.hidden ? HIDDEN : busy ? FAST : SLOW);
  }

  function getJson(url) {
    return fetch(url, {
      headers: { Accept: "application/json" },
      credentials: "same-origin",
      cache: "no-store",
    }).then(function (response) {
      if (!response.ok) {
        throw new Error("HTTP " + response.status);
      }
      return response.json();
    });
  }

  function badge(state) {
    var span = document.createElement("span");
    span.className = "state state-" + state;
    span.textContent = state;
    return span;
  }

  function portCell(cell, port) {
    cell.replaceChildren();
    if (port) {
      var link = document.createElement("a");
      link.href = "http://127.0.0.1:" + port + "/";
      link.textContent = String(port);
      cell.appendChild(link);
    } else {
      var none = document.createElement("span");
      none.className = "muted";
      none.textContent = "—";
      cell.appendChild(none);
    }
  }

  function stateCell(cell, tenant) {
    cell.replaceChildren(badge(tenant.state));
    if (tenant.state === "error" && tenant.state_reason) {
      var reason = document.createElement("p");
      reason.className = "reason";
      reason.textContent = tenant.state_reason;
      cell.appendChild(reason);
    }
  }

  // The tenant's address and, with SSO set up, its Open link (a plain link: the browser follows
  // the App's redirect to the tenant, sending no Referer on).
  function linkCell(cell, tenant, sso) {
    cell.replaceChildren();
    if (tenant.url) {
      var link = document.createElement("a");
      link.href = tenant.url;
      link.target = "_blank";
      link.rel = "noopener";
      link.textContent = tenant.url;
      cell.appendChild(link);
      // An idle tenant opens too: the router wakes it for the request.
      if (sso && (tenant.state === "running" || tenant.state === "idle" || tenant.state === "idling")) {
        var open = document.createElement("a");
        open.className = "open";
        open.href = "/api/admin/tenants/" + encodeURIComponent(tenant.slug) + "/open";
        open.rel = "noreferrer";
        open.textContent = "Open";
        cell.append(" · ", open);
      }
    } else {
      var none = document.createElement("span");
      none.className = "muted";
      none.textContent = "—";
      cell.appendChild(none);
    }
  }

  function newRow(tenant) {
    var row = document.createElement("tr");
    row.dataset.slug = tenant.slug;
    var slug = document.createElement("td");
    var link = document.createElement("a");
    link.href = "/admin/tenants/" + encodeURIComponent(tenant.slug);
    link.textContent = tenant.slug;
    slug.appendChild(link);
    var name = document.createElement("td");
    name.textContent = tenant.name;
    var state = document.createElement("td");
    state.className = "state-cell";
    var address = document.createElement("td");
    address.className = "link";
    var port = document.createElement("td");
    port.className = "port";
    var created = document.createElement("td");
    created.textContent = tenant.created_at.slice(0, 16).replace("T", " ") + " UTC";
    row.append(slug, name, state, address, port, created);
    return row;
  }

  function followList(table) {
    var body = table.tBodies[0];
    var empty = document.getElementById("no-tenants");
    function tick() {
      getJson(table.dataset.poll)
        .then(function (tenants) {
          var rows = {};
          body.querySelectorAll("tr[data-slug]").forEach(function (row) {
            rows[row.dataset.slug] = row;
          });
          var busy = false;
          tenants.forEach(function (tenant) {
            var row = rows[tenant.slug];
            delete rows[tenant.slug];
            if (!row) {
              row = newRow(tenant);
              body.appendChild(row);
            }
            if (row.dataset.state !== tenant.state || row.dataset.port !== String(tenant.published_port)) {
              stateCell(row.querySelector(".state-cell"), tenant);
              portCell(row.querySelector(".port"), tenant.published_port);
              linkCell(row.querySelector(".link"), tenant, table.dataset.sso === "on");
              row.dataset.state = tenant.state;
              row.dataset.port = String(tenant.published_port);
            }
            busy = busy || BUSY.indexOf(tenant.state) >= 0;
          });
          Object.keys(rows).forEach(function (slug) {
            rows[slug].remove(); // deleted meanwhile
          });
          table.hidden = tenants.length === 0;
          if (empty) {
            empty.hidden = tenants.length !== 0;
          }
          later(tick, busy);
        })
        .catch(function () {
          later(tick, false); // signed out, or the App restarting: keep the last view, try again
        });
    }
    later(tick, true);
  }

  function typing() {
    var active = document.activeElement;
    if (active && active.tagName === "INPUT" && active.type !== "hidden") {
      return true;
    }
    return Array.prototype.some.call(document.querySelectorAll("input[type=text]"), function (input) {
      return input.value !== "";
    });
  }

  // What the page shows of the tenant, as the server rendered it in data-shown.
  function shownOf(tenant) {
    return [
      tenant.state,
      tenant.state_reason || "",
      tenant.machine_id || "",
      tenant.published_port || "",
    ].join("|");
  }

  function followTenant(card) {
    var shown = card.dataset.shown;
    function tick() {
      getJson(card.dataset.poll)
        .then(function (tenant) {
          if (shownOf(tenant) !== shown && !typing()) {
            window.location.replace(window.location.pathname); // the notice was for the last action
            return;
          }
          later(tick, BUSY.indexOf(tenant.state) >= 0);
        })
        .catch(function (error) {
          if (String(error.message) === "HTTP 404") {
            window.location.assign("/admin"); // deleted
            return;
          }
          later(tick, false);
        });
    }
    later(tick, BUSY.indexOf(card.dataset.state) >= 0);
  }

  var list = document.querySelector("table#tenants[data-poll]");
  if (list) {
    followList(list);
  }
  var card = document.querySelector("#tenant[data-poll]");
  if (card) {
    followTenant(card);
  }
})();
