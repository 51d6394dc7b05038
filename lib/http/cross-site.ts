/**
 * A request a browser made for another site's page (a link, an image, a form on another site), by
 * its Fetch Metadata: `Sec-Fetch-Site` is `cross-site` or `same-site` (another subdomain). A typed
 * address or a bookmark is `none`, this site's own pages `same-origin`; clients that are not
 * browsers send no such header and are not refused by it. Routes that act on the session cookie
 * with a GET (downloads, the session clean-up) refuse these, so another site cannot make a
 * signed-in person export data in their name or sign them out.
 */
export function isCrossSiteRequest(headers: Headers): boolean {
  const site = headers.get('sec-fetch-site');
  return site === 'cross-site' || site === 'same-site';
}
