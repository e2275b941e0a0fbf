import { registry } from "@web/core/registry";

// The portal user is the holder of one licence, whose key ends in OWN01.
registry.category("web_tour.tours").add("montanes_license_portal_tour", {
    url: "/my",
    steps: () => [
        {
            content: "Open My Licences from the portal home",
            trigger: "a[href='/my/licenses']",
            run: "click",
            expectUnloadPage: true,
        },
        {
            content: "The key is listed masked",
            trigger: "td code:contains('MPORT-•••••-•••••-•••••-OWN01')",
        },
        {
            content: "Reveal the key",
            trigger: "button.o_montanes_license_reveal",
            run: "click",
            expectUnloadPage: true,
        },
        {
            content: "The full key is shown",
            trigger: "code.o_montanes_license_key:contains('MPORT-AAAAA-BBBBB-CCCCC-OWN01')",
        },
        {
            content: "The CSV download is offered",
            trigger: "a.o_montanes_license_csv[href='/my/licenses/csv']",
        },
    ],
});
