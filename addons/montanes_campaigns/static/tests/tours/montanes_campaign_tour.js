import { registry } from "@web/core/registry";

registry.category("web_tour.tours").add("montanes_campaign_tour", {
    url: "/odoo/action-montanes_campaigns.action_montanes_campaign",
    steps: () => [
        {
            content: "Open the campaign of the tour",
            trigger: '.o_data_row td[name="name"]:contains("Campaña del recorrido")',
            run: "click",
        },
        {
            content: "The step tree lists the follow-up under the first e-mail",
            trigger: '.o_field_one2many[name="step_ids"] .o_data_row:contains("Recordatorio")',
        },
        {
            content: "Open the timing and safety tab",
            trigger: 'a.nav-link:contains("Timing and Safety")',
            run: "click",
        },
        {
            content: "The send window is on",
            trigger: 'div[name="window_enabled"] input:checked',
        },
        {
            content: "Launch the campaign",
            trigger: 'button[name="action_launch"]',
            run: "click",
        },
        {
            content: "The campaign is running",
            trigger: '.o_statusbar_status button.o_arrow_button_current:contains("Running")',
        },
        {
            content: "Open the participants",
            trigger: 'button[name="action_view_participants"]',
            run: "click",
        },
        {
            content: "The lead of the segment is enrolled",
            trigger: '.o_data_row td:contains("recorrido@motor.example")',
        },
    ],
});
