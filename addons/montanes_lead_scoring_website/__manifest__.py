{
    "name": "Montañés Lead Scoring: Website",
    "summary": "Score the leads of Odoo's website contact form and the pages their visitors view",
    "version": "19.0.1.0.0",
    "category": "Sales/CRM",
    "author": "MontañésSoluciones",
    "website": "https://montanessoluciones.example",
    "license": "LGPL-3",
    "depends": [
        "montanes_lead_scoring",
        "website_crm",
    ],
    "installable": True,
    "auto_install": True,
    "application": False,
}
