import { registry } from "@web/core/registry";

// Lead form of a director (profile +15) who got a manual +40: the Scoring tab, then the
// "Why this score?" breakdown grouped by entry type.
registry.category("web_tour.tours").add("montanes_score_breakdown_tour", {
    steps: () => [
        {
            content: "Open the Scoring tab of the lead",
            trigger: ".o_notebook .nav-link:contains(Scoring)",
            run: "click",
        },
        {
            content: "The total score is shown",
            trigger: ".o_field_widget[name=montanes_score]:contains(55)",
        },
        {
            content: "The lead is in the Caliente band",
            trigger: ".o_field_widget[name=montanes_band_id]:contains(Caliente)",
        },
        {
            content: "Ask why the lead has this score",
            trigger: "button[name=action_montanes_score_breakdown]",
            run: "click",
        },
        {
            content: "The breakdown groups the profile entries",
            trigger: ".o_list_view .o_group_name:contains(Profile)",
        },
        {
            content: "The breakdown groups the manual adjustments",
            trigger: ".o_list_view .o_group_name:contains(Manual adjustment)",
            run: "click",
        },
        {
            content: "The manual adjustment shows its rule-less entry of 40 points",
            trigger: ".o_list_view .o_data_row td[name=points]:contains(40)",
        },
    ],
});
