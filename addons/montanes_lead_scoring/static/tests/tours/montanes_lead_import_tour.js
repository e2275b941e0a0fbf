import { registry } from "@web/core/registry";
import { stepUtils } from "@web_tour/tour_utils";

// Three rows of the sales team's spreadsheet, the second a copy of the first with the e-mail
// address typed in capitals and surrounded by blanks, as it appears in the real file.
const SPREADSHEET = [
    "Fecha alta;Empresa;CIF;Contacto;Cargo;Email;Teléfono;Provincia;Sector;Nº empleados;" +
        "Producto de interés;Origen;Último contacto;Estado;Comercial;Notas;Importe estimado (€)",
    "22/06/2025;Hostelería del Norte S.L.L.;G73039271;María Vázquez Castro;CEO;" +
        "mvazquez@hosteleriadelnorte.example;(+34) 931395775;Bizkaia;Educación;300;" +
        "No sabe / por definir;Campaña email octubre;17-05-26;Interesado;marta;" +
        "Contrato actual vence en marzo;1.490,00",
    "22/06/2025;Hostelería del Norte S.L.L.;G73039271;María Vázquez Castro;CEO;" +
        "  MVAZQUEZ@HOSTELERIADELNORTE.EXAMPLE ;(+34) 931395775;Bizkaia;Educación;300;" +
        "No sabe / por definir;Campaña email octubre;17-05-26;Interesado;marta;" +
        "Duplicado de otra pestaña;1.490,00",
    "06/05/2025;Bodegas Sierra S.A.;B37001953;Pablo Ferrer Moreno;Director comercial;" +
        "pferrer@bodegassierra.example;+34 776 887 989;Cantabria;Transporte y logística;50-249;" +
        "Licencia Office perpetua;Feria Sicur 2025;16/09/2025;Sin respuesta;marta;" +
        "Quiere factura con IRPF;850,50",
].join("\r\n");

registry.category("web_tour.tours").add("montanes_lead_import_tour", {
    url: "/odoo",
    steps: () => [
        ...stepUtils.goToAppSteps("crm.crm_menu_root", "Open the CRM app"),
        {
            content: "Open the Sales menu",
            trigger: 'button[data-menu-xmlid="crm.crm_menu_sales"]',
            run: "click",
        },
        {
            content: "Open the spreadsheet import",
            trigger: 'a[data-menu-xmlid="montanes_lead_scoring.menu_montanes_lead_import"]',
            run: "click",
        },
        {
            content: "Upload the spreadsheet",
            trigger: ".modal .o_field_binary input[type=file]:not(:visible)",
            async run({ anchor }) {
                const file = new File([SPREADSHEET], "hoja_comercial_leads.csv", {
                    type: "text/csv",
                });
                const transfer = new DataTransfer();
                transfer.items.add(file);
                anchor.files = transfer.files;
                anchor.dispatchEvent(new Event("change", { bubbles: true }));
            },
        },
        {
            content: "Wait until the file is loaded (the clear button appears)",
            trigger: ".modal .o_field_binary .o_clear_file_button",
        },
        {
            content: "Analyse the rows",
            trigger: '.modal button[name="action_analyze"]',
            run: "click",
        },
        {
            content: "The copy of the first row is shown as a duplicate to merge",
            trigger: ".modal .o_data_row:contains(Duplicate in file):contains(Merge)",
        },
        {
            content: "Skip the duplicate instead of merging it",
            trigger: '.modal button[name="action_skip_all_duplicates"]',
            run: "click",
        },
        {
            content: "The duplicate is now skipped",
            trigger: ".modal .o_data_row:contains(Duplicate in file):contains(Skip)",
        },
        {
            content: "Import",
            trigger: '.modal button[name="action_import"]',
            run: "click",
        },
        {
            content: "Open the imported leads",
            trigger: '.modal button[name="action_open_leads"]',
            run: "click",
        },
        {
            content: "The list shows the two imported leads with their score",
            trigger: ".o_list_view .o_data_row:contains(Bodegas Sierra) td[name=montanes_score]:contains(15)",
        },
        {
            content: "Switch to the kanban view",
            trigger: ".o_switch_view.o_kanban",
            run: "click",
        },
        {
            content: "Wait for the kanban view",
            trigger: ".o_kanban_view .o_kanban_record",
        },
        {
            content: "The kanban card of each imported company shows its score",
            trigger: ".o_kanban_record:contains(Bodegas Sierra) .badge:contains(15)",
        },
        {
            content: "The other imported company has the same score",
            trigger: ".o_kanban_record:contains(Hostelería del Norte) .badge:contains(15)",
        },
    ],
});
