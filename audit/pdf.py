"""The SOC 2 report as a PDF a person can hand to an auditor (fpdf2: pure Python, no browser).

It draws the dict ``audit.soc2.build`` returns, section by section, so the PDF and the JSON answer
carry the same figures. The standard PDF fonts cover Latin-1 only: other characters (a member's
name in another script) are shown as ``?`` rather than failing the export.
"""
from __future__ import annotations

from fpdf import FPDF
from fpdf.fonts import FontFace

HEADINGS = FontFace(emphasis="BOLD", fill_color=(230, 236, 245))
LIST_LIMIT = 200  # rows per listed table; the JSON answer has them all


def _text(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, (list, tuple)):
        value = ", ".join(str(v) for v in value)
    return str(value).encode("latin-1", "replace").decode("latin-1")


class _Report(FPDF):
    def __init__(self, title: str):
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.title_text = title
        self.set_auto_page_break(auto=True, margin=15)
        self.set_title(title)
        self.set_creator("Tributary")

    def footer(self):
        self.set_y(-12)
        self.set_font("Helvetica", size=8)
        self.set_text_color(110)
        self.cell(0, 6, _text(f"{self.title_text} - page {self.page_no()}"), align="C")
        self.set_text_color(0)

    def heading(self, text: str):
        self.ln(3)
        self.set_font("Helvetica", "B", 13)
        self.cell(0, 8, _text(text), new_x="LMARGIN", new_y="NEXT")
        self.set_font("Helvetica", size=9)

    def figures(self, rows: list[tuple[str, object]]):
        """A two-column table of named figures."""
        with self.table(col_widths=(70, 110), first_row_as_headings=False, line_height=5.5,
                        text_align=("LEFT", "LEFT")) as table:
            for label, value in rows:
                row = table.row()
                row.cell(_text(label))
                row.cell(_text(value))
        self.ln(2)

    def listing(self, caption: str, headings: tuple[str, ...], rows: list[tuple], widths: tuple[int, ...]):
        self.set_font("Helvetica", "B", 10)
        self.cell(0, 6, _text(caption), new_x="LMARGIN", new_y="NEXT")
        self.set_font("Helvetica", size=9)
        if not rows:
            self.set_font("Helvetica", "I", 9)
            self.cell(0, 6, "None in the period.", new_x="LMARGIN", new_y="NEXT")
            self.set_font("Helvetica", size=9)
            return
        self.set_font("Helvetica", size=8)
        with self.table(col_widths=widths, headings_style=HEADINGS, line_height=4.5,
                        text_align="LEFT") as table:
            table.row([_text(h) for h in headings])
            for values in rows[:LIST_LIMIT]:
                table.row([_text(v) for v in values])
        if len(rows) > LIST_LIMIT:
            self.cell(0, 5, _text(f"... and {len(rows) - LIST_LIMIT} more (see the JSON report)."),
                      new_x="LMARGIN", new_y="NEXT")
        self.set_font("Helvetica", size=9)
        self.ln(2)


def render(report: dict) -> bytes:
    workspace, period = report["workspace"], report["period"]
    pdf = _Report(f"SOC 2 report - {workspace['name']}")
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 17)
    pdf.cell(0, 10, _text(f"SOC 2 report: {workspace['name']}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=9)
    pdf.figures([("Workspace", workspace["id"]), ("Period from", period["start"]), ("Period to", period["end"]),
                 ("Generated", f"{report['generated_at']}, by Tributary from its stored audit trail")])

    access = report["access"]
    pdf.heading("1. Access")
    pdf.figures([("Members", access["member_count"]), ("Admins", access["admin_count"]),
                 ("Members added in the period", access["members_added"]),
                 ("Members removed in the period", access["members_removed"]),
                 ("Role changes in the period", access["role_changes"]),
                 ("Active API keys", access["api_keys_active"]),
                 ("API keys created in the period", access["api_keys_created"]),
                 ("API keys revoked in the period", access["api_keys_revoked"])])
    pdf.listing("Members and roles today", ("Member", "E-mail", "Role", "Joined", "Last sign-in"),
                [(m["name"], m["email"], m["role"], m["joined_at"], m["last_sign_in_at"]) for m in access["members"]],
                (35, 50, 17, 39, 39))
    pdf.listing("API keys (revoked ones too)", ("API key", "Scopes", "Created by", "Created", "Last used", "Revoked"),
                [(k["name"], k["scopes"], (k["created_by"] or {}).get("name"), k["created_at"], k["last_used_at"],
                  k["revoked_at"]) for k in access["api_keys"]], (28, 32, 25, 32, 32, 31))
    pdf.listing("Membership and role changes in the period", ("When", "Change", "By", "Member", "Details"),
                [(e["time"], e["action"], e["actor"], e["target_id"], e["details"]) for e in access["membership_changes"]],
                (38, 30, 40, 32, 40))

    auth = report["authentication"]
    pdf.heading("2. Authentication")
    pdf.figures([("Successful sign-ins", auth["sign_ins"]), ("Sign-outs", auth["sign_outs"]),
                 ("Failed sign-ins (wrong password)", auth["failed_sign_ins"]),
                 ("Accounts locked by throttling", auth["lockouts"]),
                 ("Sign-ins refused while locked", auth["refused_while_locked"])])
    pdf.listing("Refused sign-ins by account", ("Account", "Refused sign-ins"), [(a["account"], a["failures"]) for a in auth["failures_by_account"]],
                (120, 60))

    changes = report["change_management"]
    pdf.heading("3. Change management")
    pdf.figures([("Connections added", changes["connections_added"]),
                 ("Connections removed", changes["connections_removed"]),
                 ("Connections reconnected", changes["connections_reconnected"]),
                 ("Connection settings changed", changes["connection_settings_changed"]),
                 ("Webhook secret rotations", changes["webhook_secret_rotations"]),
                 ("Encryption key rotations", changes["encryption_key_rotations"]),
                 ("Sync cadence changes", changes["cadence_changes"]),
                 ("Sync schedule changes", changes["schedule_changes"])])
    pdf.listing("Changes in the period", ("When", "Change", "By", "Target"),
                [(e["time"], e["action"], e["actor"], e["target_id"]) for e in changes["changes"]], (40, 50, 50, 40))

    data = report["data_access"]
    pdf.heading("4. Data access")
    pdf.figures([("Queries", data["queries"]), ("Queries past document access", data["access_overrides"]),
                 ("Documents deleted", data["documents_deleted"]),
                 ("  one by one", data["documents_deleted_one_by_one"]),
                 ("  by pipeline sync", data["documents_deleted_by_pipeline_sync"]),
                 ("  with their vector stores", data["documents_deleted_with_vector_stores"]),
                 ("Audit log exports", data["exports"])])
    pdf.listing("Queries by actor", ("Actor", "Kind", "Queries"),
                [(q["actor"], q["actor_type"], q["queries"]) for q in data["queries_by_actor"]], (110, 35, 35))

    crypto = report["encryption_at_rest"]
    pdf.heading("5. Encryption at rest")
    pdf.figures([("Algorithm", crypto["algorithm"]), ("Keys in use", crypto["keys_in_use"]),
                 ("Secrets still under older keys", crypto["secrets_under_older_keys"]),
                 ("Last key rotation", crypto["last_rotation_at"] or "never audited"),
                 ("Key rotations in the period", crypto["rotations_in_period"])])
    pdf.listing("Keys", ("Key fingerprint", "Primary", "Secrets", "In use since", "Age (days)"),
                [(k["fingerprint"], "yes" if k["primary"] else "no", k["secrets"], k["in_use_since"], k["age_days"])
                 for k in crypto["keys"]], (45, 20, 20, 55, 40))

    verification = report["audit_chain"]
    pdf.heading("6. Audit trail integrity")
    rows = [("Hash chain", "intact" if verification["intact"] else "BROKEN"),
            ("Entries verified", verification["entries_checked"]),
            ("Chain places", f"{verification['verified_from_seq'] + 1} to {verification['head_seq']}"
                             + (f" (from the signed checkpoint at {verification['checkpoint_seq']})"
                                if verification["mode"] == "incremental" and verification["checkpoint_seq"] else "")),
            ("Verified at", verification["verified_at"])]
    rows += _broken_rows(verification)
    walk = verification["full_verification"]["last"]
    if walk is None:
        rows.append(("Full verification", "none yet"))
    else:
        rows += [("Full verification", f"{'intact' if walk['intact'] else 'BROKEN'}: {walk['entries_checked']} entries, "
                                       f"places {walk['verified_from_seq'] + 1} to {walk['head_seq']} "
                                       f"({walk['trigger']})"),
                 ("Full verification finished", walk["finished_at"])]
        rows += _broken_rows(walk)
    pdf.figures(rows)
    return bytes(pdf.output())


def _broken_rows(verification: dict) -> list:
    if verification["intact"]:
        return []
    return [("First bad entry", f"aud_{verification['first_bad_entry_id']} (place {verification['first_bad_seq']})"),
            ("Why", verification["reason"])]
