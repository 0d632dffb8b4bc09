"""(being written: the agency shops list)"""
from admin_ui import blueprint
from admin_ui.access import runtime, visible_shops
from admin_ui.pages import render_page


@blueprint.route("/shops")
def shops():
    with runtime().sessions() as db:
        rows = visible_shops(db)
    return render_page("admin/shops.html", shops=rows)
