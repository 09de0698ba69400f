"""Helpers of the canvas browser tests: both hosts (JupyterLab 4, Notebook 7), themes, saving."""

from .lab_helpers import WAIT_FOR_KERNEL

HOSTS = ("lab", "notebook7")


def host_url(lab, host, notebook):
    if host == "lab":
        return lab.url(notebook)
    return f"http://127.0.0.1:{lab.port}/notebooks/{notebook}?token={lab.token}"


def open_in(page, lab, host, notebook, *, kernel=True):
    page.goto(host_url(lab, host, notebook))
    if kernel:
        page.evaluate(WAIT_FOR_KERNEL)
    else:
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)


def set_theme(page, name):
    """Switch the host's theme ("JupyterLab Light" / "JupyterLab Dark") and wait for it."""
    page.evaluate(
        """async (name) => {
      const app = window.jupyterapp;
      await app.commands.execute('apputils:change-theme', { theme: name });
      const want = name.includes('Dark') ? 'false' : 'true';
      while (document.body.dataset.jpThemeLight !== want) await new Promise((r) => setTimeout(r, 100));
      await new Promise((r) => setTimeout(r, 300));
    }""",
        name,
    )


def save_and_shut_down(page):
    """Save the notebook, then shut its kernel down (what closing it for the day does)."""
    page.evaluate(
        """async () => {
      const app = window.jupyterapp;
      const w = app.shell.currentWidget;
      await w.context.save();
      await w.sessionContext.session.kernel.shutdown();
    }"""
    )


def luminance(rgb):
    """Relative luminance of a CSS ``rgb(...)``/``rgba(...)`` colour (WCAG 2)."""
    parts = [float(x) for x in rgb[rgb.index("(") + 1 : rgb.index(")")].split(",")[:3]]

    def channel(c):
        c /= 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in parts)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(fg, bg):
    hi, lo = sorted((luminance(fg), luminance(bg)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)
