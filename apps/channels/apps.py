from django.apps import AppConfig


class ChannelsConfig(AppConfig):
    name = "apps.channels"
    label = "channels"
    verbose_name = "Channels and messages"

    def ready(self) -> None:
        from apps.campaigns import activities as campaign_activities
        from apps.campaigns import forms as campaign_forms
        from apps.campaigns import hooks as campaign_hooks
        from apps.datamodel import record_sections
        from apps.tenants import lifecycle as workspace_lifecycle

        # events connects the ESP tracking receiver; policy registers the send-policy system check
        from . import activities, events, forms, manifest, media, policy, run_control, sending  # noqa: F401
        from .views.devices import record_devices_section

        # The channel activities and their side panels on the campaign canvas.
        for activity in activities.ACTIVITIES:
            campaign_activities.register(activity)
            campaign_forms.register_panel_form(activity.type, forms.activity_form)

        # Direct mail: the print house's manifest once a delivery has sent everything.
        if manifest.on_finish not in sending.FINISH_HOOKS:
            sending.FINISH_HOOKS.append(manifest.on_finish)
        # Then the run it belongs to may be finished.
        if run_control.run_settled not in sending.FINISH_HOOKS:
            sending.FINISH_HOOKS.append(run_control.run_settled)
        # Stopping, pausing and resuming runs reach their deliveries.
        if not any(isinstance(x, run_control.DeliveryRunListener) for x in campaign_hooks.RUN_LISTENERS):
            campaign_hooks.RUN_LISTENERS.append(run_control.DeliveryRunListener())
        if run_control.delivery_files not in workspace_lifecycle.FILE_PROVIDERS:
            workspace_lifecycle.FILE_PROVIDERS.append(run_control.delivery_files)
        if media.workspace_media_files not in workspace_lifecycle.FILE_PROVIDERS:
            workspace_lifecycle.FILE_PROVIDERS.append(media.workspace_media_files)
        # A profile's record page lists its push devices.
        if record_devices_section not in record_sections.RECORD_SECTIONS:
            record_sections.RECORD_SECTIONS.append(record_devices_section)
        if run_control.workspace_archived not in workspace_lifecycle.ARCHIVE_HOOKS:
            workspace_lifecycle.ARCHIVE_HOOKS.append(run_control.workspace_archived)
