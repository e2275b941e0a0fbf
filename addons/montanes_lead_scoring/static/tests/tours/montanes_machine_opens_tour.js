import { registry } from "@web/core/registry";

// The mailing form opened on a sent mailing whose only open came from a machine.
registry.category("web_tour.tours").add("montanes_machine_opens_tour", {
    steps: () => [
        {
            content: "The mailing shows one open discarded as machine next to the opened ratio",
            trigger: 'button[name="action_view_opened"] + button[name="action_view_montanes_machine_hits"] .o_stat_value:contains("1")',
        },
        {
            content: "Open the machine hits of the mailing",
            trigger: 'button[name="action_view_montanes_machine_hits"]',
            run: "click",
        },
        {
            content: "The hit is listed with its reason",
            trigger: '.o_list_view .o_data_row td[name="machine_reason"]:contains("Mail image proxy or prefetch")',
        },
    ],
});
