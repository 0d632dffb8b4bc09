"""The sandboxed Liquid environments that merchant-editable templates run in.

Merchants (and agencies acting for them) edit reminder templates, so a template is
untrusted code: it must not read files, loop or grow without bound, or inject HTML
through customer-supplied values. python-liquid gives us the pieces; this module
sets them once and caches compiled templates, because a worker renders hundreds of
messages a second and parsing costs far more than rendering.
"""
from __future__ import annotations

from functools import lru_cache

from liquid import BoundTemplate, DictLoader, Environment
from liquid.exceptions import LiquidError

# Resource limits. A real reminder loops over < 100 line items and weighs ~20 KB;
# these leave generous room for that and stop anything pathological early.
LOOP_ITERATION_LIMIT = 10_000        # product of nested loop lengths, checked up front
OUTPUT_STREAM_LIMIT = 512 * 1024     # bytes per rendered field (Gmail clips at ~102 KB)
LOCAL_NAMESPACE_LIMIT = 256 * 1024   # rough bytes held by assign/capture variables
CONTEXT_DEPTH_LIMIT = 10             # include/render are gone; this is a backstop
COMPILED_CACHE_SIZE = 1024           # 9 fields per shop override + 45 defaults


class SandboxedEnvironment(Environment):
    """A Liquid environment with resource limits and no way to reach other files."""

    loop_iteration_limit = LOOP_ITERATION_LIMIT
    output_stream_limit = OUTPUT_STREAM_LIMIT
    local_namespace_limit = LOCAL_NAMESPACE_LIMIT
    context_depth_limit = CONTEXT_DEPTH_LIMIT

    def setup_tags_and_filters(self, *, extra: bool = False) -> None:
        super().setup_tags_and_filters(extra=False)
        # Without these tags a template cannot pull in another file at all, and the
        # merchant learns it when saving (a parse error with a line) rather than when
        # the first reminder fails to render. The empty DictLoader below is a second
        # wall: even a tag added later would find nothing to load.
        for tag_name in ("include", "render"):
            self.tags.pop(tag_name, None)


def _make_environment(*, autoescape: bool) -> SandboxedEnvironment:
    return SandboxedEnvironment(
        loader=DictLoader({}),
        autoescape=autoescape,  # HTML only: subjects and plain text must stay literal
        strict_filters=True,    # a misspelt filter is an error, not silently dropped
    )


HTML_ENVIRONMENT = _make_environment(autoescape=True)
PLAIN_ENVIRONMENT = _make_environment(autoescape=False)


@lru_cache(maxsize=COMPILED_CACHE_SIZE)
def compile_template(source: str, html: bool) -> BoundTemplate:
    """Parse ``source`` once per (text, kind); raises ``LiquidError`` on bad syntax.

    Keyed by the source text itself, so an edited override gets a fresh entry and
    the old one ages out; failed parses are not cached (lru_cache skips exceptions).
    Bound templates are immutable and safe to share between threads.
    """
    environment = HTML_ENVIRONMENT if html else PLAIN_ENVIRONMENT
    return environment.from_string(source)


def render_source(source: str, html: bool, variables: dict[str, object]) -> str:
    """Compile (cached) and render ``source``; raises whatever Liquid raises."""
    return compile_template(source, html).render(**variables)


def error_line(err: BaseException) -> int | None:
    """The 1-based template line an error points at, when Liquid knows it."""
    if not isinstance(err, LiquidError):
        return None
    try:
        context = err.context()
    except ValueError:  # the token's index lies outside its own source text
        return None
    return context[0] if context else None


def error_message(err: BaseException) -> str:
    """A one-line message fit for a merchant, without Liquid's source excerpt."""
    if isinstance(err, LiquidError) and err.message is not None:
        return str(err.message)
    return str(err) or type(err).__name__
