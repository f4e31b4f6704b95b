"""A team's own handler on `sim`'s clock: the contract (`Message`, `Context`, `Reply`, `Mark`, errors).

Import these for an editor or type checker only (`if TYPE_CHECKING:`); a handler needs nothing from
`sim` at run time. See `sim.code.contract` for the contract itself.
"""

from sim.code.contract import CONTRACT_VERSION, Context, Mark, Message, Reply, ServiceError, ServiceTimeout

__all__ = ["CONTRACT_VERSION", "Context", "Mark", "Message", "Reply", "ServiceError", "ServiceTimeout"]
