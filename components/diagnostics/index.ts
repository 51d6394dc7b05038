export { RedirectUriHighlight } from './redirect-uri-highlight';
export { ScopeDiffTable } from './scope-diff-table';
