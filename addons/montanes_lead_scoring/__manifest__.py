{
    "name": "Montañés Lead Scoring",
    "summary": "Score CRM leads from their profile and their e-mail behaviour, "
    "and import the sales spreadsheet with duplicate detection",
    "version": "19.0.1.0.0",
    "category": "Sales/CRM",
    "author": "MontañésSoluciones",
    "website": "https://montanessoluciones.example",
    "license": "LGPL-3",
    "depends": [
        "base_import",
        "crm",
        "mass_mailing_crm",
    ],
    "external_dependencies": {"python": ["openpyxl"]},
    "data": [
        "security/montanes_lead_scoring_security.xml",
        "security/ir.model.access.csv",
        "data/montanes_scoring_rule_data.xml",
        "data/montanes_score_band_data.xml",
        "data/montanes_followup_rule_data.xml",
        "data/ir_cron_data.xml",
        "data/mail_templates.xml",
        "wizards/montanes_lead_import_views.xml",
        "wizards/montanes_score_adjust_views.xml",
        "views/montanes_scoring_rule_views.xml",
        "views/montanes_lead_score_line_views.xml",
        "views/montanes_score_band_views.xml",
        "views/crm_lead_views.xml",
        "views/montanes_lead_scoring_menus.xml",
    ],
    "demo": [
        "demo/res_users_demo.xml",
        "demo/montanes_scoring_rule_demo.xml",
        "demo/crm_lead_demo.xml",
    ],
    "assets": {
        "web.assets_tests": [
            "montanes_lead_scoring/static/tests/tours/*.js",
        ],
    },
    "installable": True,
    "application": False,
}
