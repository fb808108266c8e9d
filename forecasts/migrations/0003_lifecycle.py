"""Lifecycle: delivery records, the escalation and closing-soon schedule, the default beat entries."""

import django.db.models.deletion
import django.utils.timezone
import forecasts.models
from django.conf import settings
from django.db import migrations, models


def resolutions_already_told(apps, schema_editor):
    """Resolutions made before the lifecycle existed are history: the sweep must not announce them now."""
    ResolutionEvent = apps.get_model("forecasts", "ResolutionEvent")
    ResolutionEvent.objects.filter(notified_at__isnull=True).update(notified_at=models.F("created_at"))


def beat_entries_create(apps, schema_editor):
    from forecasts.schedules import beat_schedule_sync

    beat_schedule_sync(apps=apps)


def beat_entries_remove(apps, schema_editor):
    from forecasts.schedules import beat_schedule

    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name__in=beat_schedule()).delete()


class Migration(migrations.Migration):

    dependencies = [
        ('forecasts', '0002_groups'),
        ('django_celery_beat', '0019_alter_periodictasks_options'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='ActionTokenUse',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('token_hash', models.CharField(max_length=64, unique=True)),
                ('action', models.CharField(max_length=10)),
                ('used_at', models.DateTimeField(default=django.utils.timezone.now)),
            ],
        ),
        migrations.CreateModel(
            name='DigestDelivery',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('status', models.CharField(choices=[('pending', 'Pending'), ('sent', 'Sent'), ('failed', 'Failed')], default='pending', max_length=10)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('sent_at', models.DateTimeField(blank=True, null=True)),
                ('attempts', models.PositiveIntegerField(default=0)),
                ('last_error', models.TextField(blank=True)),
                ('lease_until', models.DateTimeField(blank=True, null=True)),
                ('next_attempt_at', models.DateTimeField(blank=True, null=True)),
            ],
            options={
                'verbose_name_plural': 'digest deliveries',
                'ordering': ['-created_at', '-id'],
            },
        ),
        migrations.CreateModel(
            name='WebhookDelivery',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('url', models.URLField(max_length=500)),
                ('status', models.CharField(choices=[('pending', 'Pending'), ('sent', 'Sent'), ('failed', 'Failed')], default='pending', max_length=10)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('sent_at', models.DateTimeField(blank=True, null=True)),
                ('attempts', models.PositiveIntegerField(default=0)),
                ('last_error', models.TextField(blank=True)),
                ('lease_until', models.DateTimeField(blank=True, null=True)),
                ('next_attempt_at', models.DateTimeField(blank=True, null=True)),
            ],
            options={
                'verbose_name_plural': 'webhook deliveries',
                'ordering': ['-created_at', '-id'],
            },
        ),
        migrations.AddField(
            model_name='question',
            name='closing_soon_notified_for',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='question',
            name='next_escalation_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='resolutionevent',
            name='notified_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name='profile',
            name='digest_period',
            field=models.DurationField(default=forecasts.models.default_digest_period, help_text='At most one reminder email per this period.'),
        ),
        migrations.AddIndex(
            model_name='resolutionevent',
            index=models.Index(condition=models.Q(('notified_at__isnull', True)), fields=['created_at'], name='resolution_unnotified_idx'),
        ),
        migrations.AddField(
            model_name='actiontokenuse',
            name='question',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='forecasts.question'),
        ),
        migrations.AddField(
            model_name='actiontokenuse',
            name='user',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='digestdelivery',
            name='user',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='digest_deliveries', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='notification',
            name='digest',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='notifications', to='forecasts.digestdelivery'),
        ),
        migrations.AddField(
            model_name='webhookdelivery',
            name='notification',
            field=models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='webhook_delivery', to='forecasts.notification'),
        ),
        migrations.AddIndex(
            model_name='digestdelivery',
            index=models.Index(fields=['status', 'next_attempt_at'], name='digest_delivery_due_idx'),
        ),
        migrations.AddConstraint(
            model_name='digestdelivery',
            constraint=models.UniqueConstraint(condition=models.Q(('status', 'pending')), fields=('user',), name='digest_delivery_one_pending_per_user'),
        ),
        migrations.AddConstraint(
            model_name='digestdelivery',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('sent_at__isnull', False), ('status', 'sent')), models.Q(('status', 'sent'), _negated=True), _connector='OR'), name='digest_delivery_sent_has_time'),
        ),
        migrations.AddIndex(
            model_name='webhookdelivery',
            index=models.Index(fields=['status', 'next_attempt_at'], name='webhook_delivery_due_idx'),
        ),
        migrations.RunPython(resolutions_already_told, migrations.RunPython.noop),
        migrations.RunPython(beat_entries_create, beat_entries_remove),
    ]
