package io.denoise.webhooks;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import jakarta.persistence.EntityManager;
import jakarta.transaction.Transactional;

import java.util.List;

/** Each tenant's signing secret, made on first use and replaced on rotation; kept in PostgreSQL for every replica. */
@ApplicationScoped
public class WebhookSecrets {

    @Inject
    EntityManager em;

    @Inject
    WebhookConfig config;

    /** The tenant's secret, made now if it has none. */
    @Transactional
    public String secret(String tenant) {
        em.createNativeQuery("""
                        insert into webhook_secret (tenant, secret, created_at) values (:tenant, :secret, now())
                        on conflict (tenant) do nothing""")
                .setParameter("tenant", tenant).setParameter("secret", WebhookSignature.newSecret()).executeUpdate();
        return (String) em.createNativeQuery("select secret from webhook_secret where tenant = :tenant")
                .setParameter("tenant", tenant).getSingleResult();
    }

    /**
     * Replaces the tenant's secret: every delivery tried from now on is signed with the new one, and for
     * {@code denoise.webhooks.rotation-grace} with the old one too.
     */
    @Transactional
    public String rotate(String tenant) {
        secret(tenant);
        String secret = WebhookSignature.newSecret();
        em.createNativeQuery("""
                        update webhook_secret set previous_secret = secret, rotated_at = now(), secret = :secret,
                               created_at = now()
                         where tenant = :tenant""")
                .setParameter("tenant", tenant).setParameter("secret", secret).executeUpdate();
        return secret;
    }

    /** The secrets a delivery of the tenant is signed with now: the current one, and the previous within the grace. */
    @Transactional
    public List<String> signing(String tenant) {
        secret(tenant);
        Object[] row = (Object[]) em.createNativeQuery("""
                        select secret, case when rotated_at > now() - make_interval(secs => :grace) then previous_secret end
                          from webhook_secret where tenant = :tenant""")
                .setParameter("tenant", tenant).setParameter("grace", config.rotationGrace().toMillis() / 1000.0)
                .getSingleResult();
        return row[1] == null ? List.of((String) row[0]) : List.of((String) row[0], (String) row[1]);
    }
}
