import type { ReactNode } from 'react';
import { Link } from '../router';
import { navSections } from '../routes';
import { useRestoreJob } from '../restoreJob';
import { useSession } from '../session';
import { HeldDeletesBanner } from './HeldDeletesBanner';

/** The signed-in frame: the sidebar of the pages the user may see, and who is signed in. */
export function Layout({ activePath, children }: { activePath: string | null; children: ReactNode }) {
  const { me, can, signOut } = useSession();
  return (
    <div className="shell">
      <aside className="sidebar">
        <div className="brand">
          <span className="brand-mark" aria-hidden="true">
            R
          </span>
          <div>
            <div className="brand-name">Retrace</div>
            <div className="brand-workspace" title={me.workspace.id}>
              {me.workspace.name}
            </div>
          </div>
        </div>
        <nav aria-label="Main">
          {navSections.map((section) => {
            const items = section.items.filter((item) => can(item.permission));
            if (items.length === 0) return null;
            return (
              <div className="nav-section" key={section.title}>
                <div className="nav-title">{section.title}</div>
                <ul>
                  {items.map((item) => (
                    <li key={item.path}>
                      <Link to={item.path} className={item.path === activePath ? 'nav-link active' : 'nav-link'} aria-current={item.path === activePath ? 'page' : undefined}>
                        {item.label}
                      </Link>
                    </li>
                  ))}
                </ul>
              </div>
            );
          })}
        </nav>
        <RestoreJobChip />
        <div className="sidebar-footer">
          <div className="who">
            <div className="who-name">{me.user.name ?? me.user.email}</div>
            <div className="who-role" data-testid="role">
              {me.role.name}
            </div>
          </div>
          <button type="button" className="button ghost small" onClick={signOut}>
            Sign out
          </button>
        </div>
      </aside>
      <main className="main">
        <HeldDeletesBanner />
        {children}
      </main>
    </div>
  );
}

/** A running restore, seen from any page: it carries on while the admin works elsewhere. */
function RestoreJobChip() {
  const { job, running } = useRestoreJob();
  if (!job || !running) return null;
  const done = job.restored + job.skipped.length;
  const percent = job.requested === 0 ? 0 : Math.round((done / job.requested) * 100);
  return (
    <Link to={job.source === 'deleted' ? '/restore/deleted' : '/restore/archived'} className="job-chip" data-testid="job-chip">
      <span>
        Restoring {done}/{job.requested}
      </span>
      <span className="job-chip-bar">
        <span style={{ width: `${percent}%` }} />
      </span>
    </Link>
  );
}
