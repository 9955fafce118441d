// Alertmanager routing: critical and warning to Slack (a channel per team), critical also by email,
// grouped per alert and team, critical inhibiting the warning of the same alert; secrets from files.
import { yamlFile, type Files } from './files.js';
import type { AscodeSettings } from '../config/ascode.js';

export const RECEIVERS = { slackCritical: 'slack-critical', slackWarning: 'slack-warning', emailCritical: 'email-critical' } as const;

const SLACK_TITLE = '[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}{{ end }}] {{ .CommonLabels.alertname }} ({{ .CommonLabels.severity }})';
const SLACK_TEXT =
  '{{ range .Alerts }}*{{ .Annotations.summary }}*\n{{ .Annotations.description }}\n<{{ .Annotations.runbook_url }}|Runbook> · <{{ .Annotations.dashboard }}|Dashboard>\n{{ end }}';
const EMAIL_SUBJECT = '[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }} ({{ .CommonLabels.severity }}): {{ .CommonAnnotations.summary }}';
const EMAIL_TEXT = '{{ range .Alerts }}{{ .Annotations.summary }}\n\n{{ .Annotations.description }}\n\nRunbook: {{ .Annotations.runbook_url }}\nDashboard: {{ .Annotations.dashboard }}\n\n{{ end }}';

/**
 * @param alertLabels label names the alerts carry besides alertname, severity and team (inferred
 *   from their expressions): the inhibit rule pairs a critical and a warning only when all agree.
 */
export function alertmanagerConfig(s: AscodeSettings, alertLabels: readonly string[]): unknown {
  const a = s.alertmanager;
  const channel = `${a.slackChannelPrefix}{{ .CommonLabels.team }}`;
  const slack = (sendResolved: boolean) => ({
    api_url_file: a.slackApiUrlFile,
    channel,
    send_resolved: sendResolved,
    title: SLACK_TITLE,
    title_link: '{{ (index .Alerts 0).Annotations.dashboard }}',
    text: SLACK_TEXT,
  });
  return {
    global: {
      resolve_timeout: '5m',
      smtp_smarthost: a.smtpSmarthost,
      smtp_from: a.smtpFrom,
      smtp_auth_username: a.smtpAuthUsername,
      smtp_auth_password_file: a.smtpAuthPasswordFile,
      smtp_require_tls: a.smtpRequireTls,
    },
    route: {
      receiver: RECEIVERS.slackWarning, // anything without a known severity still reaches people
      group_by: ['alertname', 'team'],
      group_wait: a.groupWait,
      group_interval: a.groupInterval,
      repeat_interval: a.repeatIntervalWarning,
      routes: [
        { receiver: RECEIVERS.slackCritical, matchers: ['severity="critical"'], repeat_interval: a.repeatIntervalCritical, continue: true },
        { receiver: RECEIVERS.emailCritical, matchers: ['severity="critical"'], repeat_interval: a.repeatIntervalCritical },
        { receiver: RECEIVERS.slackWarning, matchers: ['severity="warning"'], repeat_interval: a.repeatIntervalWarning },
      ],
    },
    inhibit_rules: [
      {
        source_matchers: ['severity="critical"'],
        target_matchers: ['severity="warning"'],
        equal: ['alertname', 'team', ...alertLabels.filter((l) => l !== 'alertname' && l !== 'team' && l !== 'severity')],
      },
    ],
    receivers: [
      { name: RECEIVERS.slackCritical, slack_configs: [slack(true)] },
      { name: RECEIVERS.slackWarning, slack_configs: [slack(true)] },
      {
        name: RECEIVERS.emailCritical,
        email_configs: [
          {
            to: `{{ .CommonLabels.team }}-oncall@${a.emailDomain}`,
            auth_password_file: a.smtpAuthPasswordFile,
            send_resolved: true,
            headers: { Subject: EMAIL_SUBJECT },
            text: EMAIL_TEXT,
          },
        ],
      },
    ],
  };
}

export function alertmanagerFiles(s: AscodeSettings, alertLabels: readonly string[]): Files {
  return new Map([['alertmanager/alertmanager.yml', yamlFile(alertmanagerConfig(s, alertLabels))]]);
}
