import { Alert, PageHeader } from '@/components/ui/card';
import { requirePageUser } from '@/lib/auth/page-guard';
import { diagnoseAuthorizationRequest, diagnosisQueryString, parseDiagnoseSearchParams, type Diagnosis } from '@/lib/diagnostics';
import { isAppError } from '@/lib/errors';
import { DiagnoseForm } from './_components/diagnose-form';
import { DiagnosisResult } from './_components/diagnosis-result';

/**
 * The diagnosis lives in the query string (a GET form), so the page runs it on the server from
 * the URL and every result has a link that reproduces it.
 */
export default async function DiagnosePage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const { actor } = await requirePageUser('diagnostics:run');
  const { values, input } = parseDiagnoseSearchParams(await searchParams);

  let diagnosis: Diagnosis | null = null;
  let problem: { message: string; field: string | null } | null = null;
  if (input !== null) {
    try {
      diagnosis = await diagnoseAuthorizationRequest(actor, input);
    } catch (error) {
      if (!isAppError(error) || error.code !== 'INVALID') throw error;
      problem = { message: error.message, field: typeof error.details?.field === 'string' ? error.details.field : null };
    }
  }
  const errors: Record<string, string[]> = problem?.field ? { [problem.field]: [problem.message] } : {};

  return (
    <>
      <PageHeader
        title="Diagnose"
        description="Why did the hospital’s server refuse the app? Paste the authorization request URL (or a client id and redirect URI) and Registrar compares the redirect URI character by character with the registered ones, then checks the rest of the request."
      />
      <div className="space-y-6">
        <DiagnoseForm values={values} errors={errors} />
        {problem && !problem.field ? <Alert>{problem.message}</Alert> : null}
        {diagnosis && input ? <DiagnosisResult diagnosis={diagnosis} shareHref={`/diagnose?${diagnosisQueryString(input)}`} /> : null}
      </div>
    </>
  );
}
