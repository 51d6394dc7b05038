'use client';

import { useRouter } from 'next/navigation';
import { useState, useTransition } from 'react';
import { Button } from '@/components/ui/button';
import { Alert, Badge, Card } from '@/components/ui/card';
import { SelectField, TextAreaField } from '@/components/ui/field';
import type { UdapCertificateSummary } from '@/lib/apps/udap';
import { uploadUdapCertificateAction } from '../actions';

const day = (iso: string) => iso.slice(0, 10);

/** The app's UDAP client certificates per environment, and (for ops/admins) the upload form. */
export function UdapCertificates({ appId, environments, certificates, canWrite }: { appId: string; environments: string[]; certificates: UdapCertificateSummary[]; canWrite: boolean }) {
  return (
    <Card title="UDAP client certificates">
      <p className="mb-3 text-sm text-slate-600">
        For hospitals that register clients with UDAP (HL7 UDAP Security): Registrar signs the software statement with this certificate’s key. Its URI subjectAltName becomes the statement’s iss and sub.
      </p>
      {certificates.length === 0 ? (
        <p className="text-sm text-slate-600">No certificate yet.</p>
      ) : (
        <table className="w-full text-left text-sm" aria-label="UDAP certificates">
          <thead className="text-xs uppercase text-slate-500">
            <tr>
              <th className="py-1">Environment</th>
              <th>Subject</th>
              <th>URI SAN (iss)</th>
              <th>Valid</th>
              <th>SHA-256 fingerprint</th>
            </tr>
          </thead>
          <tbody>
            {certificates.map((c) => (
              <tr key={c.id} className="border-t border-slate-100 align-top">
                <td className="py-1">{c.environment}</td>
                <td>
                  {c.subject}
                  <div className="text-xs text-slate-500">issued by {c.issuer}</div>
                </td>
                <td className="font-mono text-xs">{c.sanUris.join(' ')}</td>
                <td>
                  {day(c.notBefore)} → {day(c.notAfter)} {new Date(c.notAfter) < new Date() ? <Badge tone="bad">expired</Badge> : null}
                </td>
                <td className="break-all font-mono text-xs">{c.fingerprintSha256}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {canWrite ? <UploadForm appId={appId} environments={environments} /> : null}
    </Card>
  );
}

async function pemFrom(form: FormData, fileField: string, textField: string): Promise<string> {
  const file = form.get(fileField);
  if (file instanceof File && file.size > 0) return file.text();
  return String(form.get(textField) ?? '');
}

function UploadForm({ appId, environments }: { appId: string; environments: string[] }) {
  const router = useRouter();
  const [pending, startTransition] = useTransition();
  const [error, setError] = useState<string | null>(null);
  const [fieldErrors, setFieldErrors] = useState<Record<string, string[]>>({});
  const [stored, setStored] = useState<UdapCertificateSummary | null>(null);
  return (
    <form
      aria-label="Upload a UDAP certificate"
      className="mt-4 space-y-3 border-t border-slate-100 pt-4"
      onSubmit={(event) => {
        event.preventDefault();
        const form = event.currentTarget;
        const data = new FormData(form);
        startTransition(async () => {
          // Read at submit time and sent once: the key is never kept in component state.
          const result = await uploadUdapCertificateAction({
            appId,
            environment: String(data.get('environment') ?? ''),
            certificateChainPem: await pemFrom(data, 'certificateFile', 'certificateChainPem'),
            privateKeyPem: await pemFrom(data, 'keyFile', 'privateKeyPem'),
          });
          if (!result.ok) {
            // The private key is never kept in the page, not even to retry: it is chosen again.
            for (const name of ['privateKeyPem', 'keyFile']) {
              const field = form.elements.namedItem(name);
              if (field instanceof HTMLInputElement || field instanceof HTMLTextAreaElement) field.value = '';
            }
            setError(result.error.message);
            setFieldErrors(result.fieldErrors ?? {});
            setStored(null);
            return;
          }
          form.reset();
          setError(null);
          setFieldErrors({});
          setStored(result.data);
          router.refresh();
        });
      }}
    >
      <h3 className="text-sm font-semibold">Upload a certificate and its key</h3>
      <SelectField label="Environment" name="environment" defaultValue={environments[0]} errors={fieldErrors.environment}>
        {environments.map((e) => (
          <option key={e} value={e}>
            {e}
          </option>
        ))}
      </SelectField>
      <div className="grid grid-cols-1 gap-3 md:grid-cols-2">
        <div className="space-y-1">
          <label htmlFor="udap-certificate-file" className="block text-sm font-medium text-slate-700">
            Certificate chain file (PEM, client certificate first)
          </label>
          <input id="udap-certificate-file" name="certificateFile" type="file" accept=".pem,.crt,.cer,text/plain" className="block text-sm" />
          <TextAreaField label="…or paste the certificate chain" name="certificateChainPem" rows={4} spellCheck={false} errors={fieldErrors.certificateChainPem} />
        </div>
        <div className="space-y-1">
          <label htmlFor="udap-key-file" className="block text-sm font-medium text-slate-700">
            Private key file (PEM, unencrypted)
          </label>
          <input id="udap-key-file" name="keyFile" type="file" accept=".pem,.key,text/plain" className="block text-sm" />
          <TextAreaField label="…or paste the private key" name="privateKeyPem" rows={4} spellCheck={false} autoComplete="off" errors={fieldErrors.privateKeyPem} />
          <p className="text-xs text-slate-500">Checked against the certificate, then encrypted into Registrar’s vault. It is never shown again.</p>
        </div>
      </div>
      {error ? <Alert>{error}</Alert> : null}
      {stored ? (
        <Alert tone="success">
          Stored the certificate for {stored.environment}: {stored.subject}, URI SAN {stored.sanUris[0]}, valid until {day(stored.notAfter)}, SHA-256 {stored.fingerprintSha256}.
        </Alert>
      ) : null}
      <Button type="submit" disabled={pending}>
        {pending ? 'Checking…' : 'Upload certificate and key'}
      </Button>
    </form>
  );
}
