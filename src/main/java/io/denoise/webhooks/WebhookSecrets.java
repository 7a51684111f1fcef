package io.denoise.webhooks;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import jakarta.persistence.EntityManager;
import jakarta.transaction.Transactional;

/** Each tenant's signing secret, made on first use and replaced on rotation; kept in PostgreSQL for every replica. */
@ApplicationScoped
public class WebhookSecrets {

    @Inject
    EntityManager em;

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

    /** Replaces the tenant's secret: every delivery tried from now on is signed with the new one. */
    @Transactional
    public String rotate(String tenant) {
        String secret = WebhookSignature.newSecret();
        em.createNativeQuery("""
                        insert into webhook_secret (tenant, secret, created_at) values (:tenant, :secret, now())
                        on conflict (tenant) do update set secret = excluded.secret, created_at = excluded.created_at""")
                .setParameter("tenant", tenant).setParameter("secret", secret).executeUpdate();
        return secret;
    }
}
