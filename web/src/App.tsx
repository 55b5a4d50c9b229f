import { Layout } from './components/Layout';
import { Notice } from './components/Notice';
import { SignInPage } from './pages/SignInPage';
import { matchPath, navigate, usePath } from './router';
import { innerRoutes, navSections, type PageRoute } from './routes';
import { SessionProvider, useSession, useStoredToken } from './session';

export function App() {
  const { token, signIn, signOut, reason } = useStoredToken();
  if (!token) return <SignInPage onSignIn={signIn} reason={reason} />;
  return (
    <SessionProvider token={token} onSignOut={signOut} fallback={<div className="booting">Loading…</div>}>
      <Pages />
    </SessionProvider>
  );
}

function Pages() {
  const path = usePath();
  const { can } = useSession();
  const navItems = navSections.flatMap((section) => section.items);
  if (path === '/' || path === '') {
    const first = navItems.find((item) => can(item.permission));
    if (first) queueMicrotask(() => navigate(first.path, { replace: true }));
    return <Layout activePath={null}>{first ? null : <Notice tone="warning">Your role gives you no page to see here.</Notice>}</Layout>;
  }
  const routes: (PageRoute & { section: string })[] = [...navItems.map((item) => ({ ...item, section: item.path })), ...innerRoutes];
  for (const route of routes) {
    const params = matchPath(route.path, path);
    if (!params) continue;
    const Page = route.page;
    return (
      <Layout activePath={route.section}>
        {can(route.permission) ? <Page params={params} /> : <Notice tone="error">This page needs the permission “{route.permission}”, which your role does not have.</Notice>}
      </Layout>
    );
  }
  return (
    <Layout activePath={null}>
      <Notice tone="warning">There is no page at {path}.</Notice>
    </Layout>
  );
}
