from django.apps import AppConfig


class ChannelsConfig(AppConfig):
    name = "apps.channels"
    label = "channels"
    verbose_name = "Channels and messages"

    def ready(self) -> None:
        # events connects the ESP tracking receiver; policy registers the send-policy system check
        from . import events, manifest, policy, sending  # noqa: F401

        # Direct mail: the print house's manifest once a delivery has sent everything.
        if manifest.on_finish not in sending.FINISH_HOOKS:
            sending.FINISH_HOOKS.append(manifest.on_finish)
