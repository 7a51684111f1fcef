package io.denoise.jobs;

import io.quarkus.hibernate.orm.panache.PanacheEntityBase;
import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.GeneratedValue;
import jakarta.persistence.GenerationType;
import jakarta.persistence.Id;
import jakarta.persistence.Table;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.time.Instant;
import java.util.List;
import java.util.UUID;

/** A Kafka record waiting to be published by {@link OutboxRelay}; written in the same transaction as its job. */
@Entity
@Table(name = "outbox")
public class OutboxMessage extends PanacheEntityBase {

    @Id
    @GeneratedValue(strategy = GenerationType.IDENTITY)
    public Long id;

    public String topic;

    @Column(name = "record_key")
    public String recordKey;

    public String payload;

    @Column(name = "created_at")
    public Instant createdAt;

    /** A record for the job {@code id}, not yet stored. */
    public static OutboxMessage of(String topic, UUID id, String payload, Instant createdAt) {
        OutboxMessage message = new OutboxMessage();
        message.topic = topic;
        message.recordKey = id.toString();
        message.payload = payload;
        message.createdAt = createdAt;
        return message;
    }

    /** Stores {@code messages} in one statement, in the transaction open on {@code c} (for plain JDBC callers). */
    static void insert(Connection c, List<OutboxMessage> messages) throws SQLException {
        if (messages.isEmpty()) {
            return;
        }
        try (PreparedStatement s = c.prepareStatement("""
                insert into outbox (topic, record_key, payload, created_at)
                select topic, record_key, payload, created_at
                  from unnest(?::text[], ?::text[], ?::text[], ?::timestamptz[]) as r(topic, record_key, payload, created_at)""")) {
            s.setArray(1, c.createArrayOf("text", messages.stream().map(m -> m.topic).toArray()));
            s.setArray(2, c.createArrayOf("text", messages.stream().map(m -> m.recordKey).toArray()));
            s.setArray(3, c.createArrayOf("text", messages.stream().map(m -> m.payload).toArray()));
            s.setArray(4, c.createArrayOf("text", messages.stream().map(m -> m.createdAt.toString()).toArray()));
            s.executeUpdate();
        }
    }
}
