import 'server-only';

/** Expiry monitoring and notifications: states per credential, a webhook on changes, a daily digest, deliveries with retries. */
export { runExpiryMonitor, monitorStateOf, expiryThresholds, type ExpiryChange, type MonitorState } from './monitor';
export { runAppCredentialMonitor, type AppCredentialChange } from './app-credentials';
export { buildDailyDigest, enqueueDailyDigest } from './digest';
export { deliverPendingNotifications, enqueueNotification } from './deliver';
export { getWebhookSettings, setWebhookSettings } from './settings';
export { listNotificationDeliveries, retryNotificationDelivery, sendTestNotification } from './queries';
export { escapeSlackText, slackText } from './slack-text';
