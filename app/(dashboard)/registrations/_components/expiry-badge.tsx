import { utcDay, utcMinute } from '@/lib/format-time';
import { Badge } from '@/components/ui/card';
import type { Expiry } from '@/lib/registrations/expiry';

/** never / unknown / none / a date with days left, coloured by state. */
export function ExpiryBadge({ expiry }: { expiry: Expiry }) {
  switch (expiry.state) {
    case 'never':
      return <Badge tone="good">never expires</Badge>;
    case 'none':
      return <Badge>no secret</Badge>;
    case 'unknown':
      return <Badge tone="warn">expiry unknown</Badge>;
    default: {
      const days = expiry.daysLeft ?? 0;
      const tone = expiry.state === 'expired' || days <= 7 ? 'bad' : expiry.state === 'expiring' ? 'warn' : 'good';
      return (
        <span title={utcMinute(expiry.at, '')}>
          <Badge tone={tone}>{expiry.state === 'expired' ? (days === 0 ? 'expired under a day ago' : `expired ${-days} d ago`) : days === 0 ? 'in under a day' : `in ${days} d`}</Badge>{' '}
          <span className="font-mono text-xs text-slate-500">{utcDay(expiry.at)} UTC</span>
        </span>
      );
    }
  }
}
