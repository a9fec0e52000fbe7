"""The consumer journey on the command line: ``loom apps``, ``loom keys``, ``loom subscriptions``, ``loom audit``.

Each talks to a running portal's admin API (``--server URL --token T``) through :class:`portal.client.AdminClient`,
so it is authorized and audited exactly like the API; ``-o table|yaml|json`` chooses the output.
"""

from __future__ import annotations

from portal.commands.consumer import add_parsers, apps_command, audit_command, keys_command, subscriptions_command

__all__ = ["add_parsers", "apps_command", "audit_command", "keys_command", "subscriptions_command"]
