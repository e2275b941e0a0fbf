from . import product_label_report
