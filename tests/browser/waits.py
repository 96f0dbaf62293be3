"""Waits shared by the browser tests."""


def idle(page) -> None:
    """Wait until htmx has no request in flight and has settled the last swap. Playwright
    sees a response before htmx swaps it in, and swapped content listens for its triggers
    only once it is settled (some milliseconds later): acting sooner loses the event."""
    page.wait_for_function("() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')")
