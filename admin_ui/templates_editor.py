"""(being written)"""
from admin_ui import blueprint
from admin_ui.access import runtime, shop_for_viewer
from admin_ui.pages import render_page


@blueprint.route("/shops/<int:shop_id>/templates")
def templates(shop_id: int):
    with runtime().sessions() as db:
        shop = shop_for_viewer(db, shop_id)
    return render_page("admin/stub.html", shop=shop, active="templates")
