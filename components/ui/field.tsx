import type { InputHTMLAttributes, SelectHTMLAttributes, TextareaHTMLAttributes } from 'react';

type FieldProps = { label: string; name: string; errors?: string[]; hint?: string };

/** What describes the control: its errors when there are some, else its hint. */
function described(id: string, errors?: string[], hint?: string) {
  return { 'aria-invalid': errors?.length ? true : undefined, 'aria-describedby': errors?.length ? `${id}-error` : hint ? `${id}-hint` : undefined } as const;
}

/** A labelled input with its errors announced to assistive technology. */
export function TextField({ label, name, errors, hint, ...props }: FieldProps & InputHTMLAttributes<HTMLInputElement>) {
  const id = props.id ?? `field-${name}`;
  return (
    <div className="space-y-1">
      <label htmlFor={id} className="block text-sm font-medium text-slate-700">
        {label}
      </label>
      <input
        id={id}
        name={name}
        {...described(id, errors, hint)}
        className="block w-full rounded-md border border-slate-300 bg-white px-3 py-1.5 text-sm shadow-sm focus:border-slate-500 focus:outline-none aria-invalid:border-red-600"
        {...props}
      />
      <FieldHelp id={id} errors={errors} hint={hint} />
    </div>
  );
}

export function SelectField({ label, name, errors, hint, children, ...props }: FieldProps & SelectHTMLAttributes<HTMLSelectElement>) {
  const id = props.id ?? `field-${name}`;
  return (
    <div className="space-y-1">
      <label htmlFor={id} className="block text-sm font-medium text-slate-700">
        {label}
      </label>
      <select
        id={id}
        name={name}
        {...described(id, errors, hint)}
        className="block w-full rounded-md border border-slate-300 bg-white px-3 py-1.5 text-sm shadow-sm focus:border-slate-500 focus:outline-none aria-invalid:border-red-600"
        {...props}
      >
        {children}
      </select>
      <FieldHelp id={id} errors={errors} hint={hint} />
    </div>
  );
}

export function TextAreaField({ label, name, errors, hint, ...props }: FieldProps & TextareaHTMLAttributes<HTMLTextAreaElement>) {
  const id = props.id ?? `field-${name}`;
  return (
    <div className="space-y-1">
      <label htmlFor={id} className="block text-sm font-medium text-slate-700">
        {label}
      </label>
      <textarea
        id={id}
        name={name}
        {...described(id, errors, hint)}
        className="block w-full rounded-md border border-slate-300 bg-white px-3 py-1.5 text-sm shadow-sm focus:border-slate-500 focus:outline-none aria-invalid:border-red-600"
        {...props}
      />
      <FieldHelp id={id} errors={errors} hint={hint} />
    </div>
  );
}

/** The errors (announced) or, without errors, the hint. */
function FieldHelp({ id, errors, hint }: { id: string; errors?: string[]; hint?: string }) {
  if (errors?.length) {
    return (
      <p id={`${id}-error`} role="alert" className="text-xs text-red-700">
        {errors.join(' ')}
      </p>
    );
  }
  return hint ? (
    <p id={`${id}-hint`} className="text-xs text-slate-500">
      {hint}
    </p>
  ) : null;
}
