// The inspector's page as one HTML document (public/index.html with client/inspector/app.ts bundled
// into it), for serveInspector. In the sources it is null: this repository's own worker serves the
// page as static assets (wrangler.toml [assets]), and `npm run build` replaces this module's
// output, dist/party/inspector-page.js, with the page (scripts/build-inspector-page.ts).
export const INSPECTOR_PAGE: string | null = null;
