"""Public hypothesis strategies for Llama 3.x conversations, for users' own property tests.

    from hypothesis import given
    from llamatpl.strategies import conversations

    @given(conversations(version="3.1"))
    def test_my_template(conversation): ...

Every option is keyword-only; examples shrink towards fewer turns, no tools and plain content.
"""

from .verification.strategies import contents, conversations, messages, tool_calls, tools

__all__ = ["contents", "conversations", "messages", "tool_calls", "tools"]
