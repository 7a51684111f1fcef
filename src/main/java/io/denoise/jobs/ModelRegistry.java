package io.denoise.jobs;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import jakarta.persistence.EntityManager;
import jakarta.transaction.Transactional;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * The models workers serve, kept in PostgreSQL so every API replica sees the same list. Reads are cached for a
 * second: a newly registered model is accepted within that. Thread-safe.
 */
@ApplicationScoped
public class ModelRegistry {

    private static final long CACHE_NANOS = 1_000_000_000L;

    @Inject
    EntityManager em;

    @Inject
    ObjectMapper json;

    private volatile Map<String, ModelCard> cache = Map.of();
    private volatile long cachedAt;

    /** Registers or refreshes a model card (worker start). */
    @Transactional
    public void register(ModelCard card) {
        em.createNativeQuery("""
                        insert into model (name, hash, settings, updated_at, last_seen_at)
                        values (:name, :hash, cast(:settings as jsonb), now(), now())
                        on conflict (name) do update
                           set hash = excluded.hash, settings = excluded.settings, updated_at = now(), last_seen_at = now()""")
                .setParameter("name", card.name())
                .setParameter("hash", card.hash())
                .setParameter("settings", write(card))
                .executeUpdate();
        cachedAt = 0;
    }

    /** Every registered model, by name. */
    public Map<String, ModelCard> all() {
        if (System.nanoTime() - cachedAt > CACHE_NANOS) {
            cache = load();
            cachedAt = System.nanoTime();
        }
        return cache;
    }

    public Optional<ModelCard> find(String name) {
        return Optional.ofNullable(all().get(name));
    }

    @Transactional
    Map<String, ModelCard> load() {
        @SuppressWarnings("unchecked")
        List<Object[]> rows = em.createNativeQuery("select name, cast(settings as text), last_seen_at from model order by name")
                .getResultList();
        Map<String, ModelCard> cards = new TreeMap<>();
        for (Object[] row : rows) {
            ModelCard card = read((String) row[1]);
            Instant seen = SqlValues.instant(row[2]);
            cards.put((String) row[0], new ModelCard(card.name(), card.hash(), card.defaults(), card.limits(),
                    new ArrayList<>(card.schedulers()), card.imageToImage(), card.batching(), seen));
        }
        return Map.copyOf(cards);
    }

    private String write(ModelCard card) {
        try {
            return json.writeValueAsString(card);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private ModelCard read(String text) {
        try {
            return json.readValue(text, ModelCard.class);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("unreadable model card: " + text, e);
        }
    }
}
