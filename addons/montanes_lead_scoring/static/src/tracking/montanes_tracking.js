/*
 * Montañés lead scoring: page views and form submissions of the company website.
 *
 * Plain script for a website that is not Odoo; it is not part of any Odoo asset bundle.
 * Load it on every page, after the visitor has accepted analytics cookies:
 *
 *   <script src="https://ODOO/montanes_lead_scoring/static/src/tracking/montanes_tracking.js"
 *           data-endpoint="https://ODOO" async></script>
 *
 * It reports nothing for visitors without a visitor token. The token arrives in the
 * "montanes_token" query parameter of a link clicked in a tracked e-mail. The script
 * moves it into a first-party cookie and removes it from the address bar. Forms are
 * reported when they carry the attribute data-montanes-track.
 */
(function () {
    "use strict";

    var TOKEN_PARAMETER = "montanes_token";
    var COOKIE_NAME = "montanes_token";
    // Days the cookie lives. Odoo checks the token's own expiry date.
    var COOKIE_DAYS = 90;

    var script = document.currentScript;
    var endpoint = script && script.getAttribute("data-endpoint");
    if (!endpoint) {
        return;
    }
    endpoint = endpoint.replace(/\/+$/, "");

    function readCookie() {
        var match = document.cookie.match(new RegExp("(?:^|; )" + COOKIE_NAME + "=([^;]*)"));
        return match ? decodeURIComponent(match[1]) : null;
    }

    function writeCookie(token) {
        var secure = window.location.protocol === "https:" ? "; Secure" : "";
        document.cookie = COOKIE_NAME + "=" + encodeURIComponent(token) + "; Max-Age=" +
            COOKIE_DAYS * 86400 + "; Path=/; SameSite=Lax" + secure;
    }

    function takeTokenFromUrl() {
        var url = new URL(window.location.href);
        var token = url.searchParams.get(TOKEN_PARAMETER);
        if (!token) {
            return null;
        }
        url.searchParams.delete(TOKEN_PARAMETER);
        if (window.history && window.history.replaceState) {
            window.history.replaceState(window.history.state, "", url.toString());
        }
        writeCookie(token);
        return token;
    }

    function newHitId() {
        if (window.crypto && window.crypto.randomUUID) {
            return window.crypto.randomUUID();
        }
        var bytes = new Uint8Array(16);
        window.crypto.getRandomValues(bytes);
        return Array.prototype.map.call(bytes, function (byte) {
            return ("0" + byte.toString(16)).slice(-2);
        }).join("");
    }

    var token = takeTokenFromUrl() || readCookie();
    if (!token) {
        return;
    }

    function send(event) {
        var hit = {
            token: token,
            hit_id: newHitId(),
            event: event,
            url: window.location.origin + window.location.pathname,
        };
        // text/plain is a CORS-safelisted type, so the browser sends no preflight request.
        var body = JSON.stringify(hit);
        if (navigator.sendBeacon &&
                navigator.sendBeacon(endpoint + "/montanes/track", new Blob([body], {type: "text/plain"}))) {
            return;
        }
        // Pixel fallback for browsers without beacons.
        var image = new Image(1, 1);
        image.referrerPolicy = "strict-origin-when-cross-origin";
        image.src = endpoint + "/montanes/track/pixel.gif?" + new URLSearchParams(hit).toString();
    }

    send("page_view");
    document.addEventListener("submit", function (ev) {
        if (ev.target && ev.target.hasAttribute && ev.target.hasAttribute("data-montanes-track")) {
            send("form_submit");
        }
    }, true);
})();
