package io.denoise.api;

import jakarta.persistence.PersistenceException;
import jakarta.transaction.RollbackException;
import jakarta.ws.rs.core.Response;
import org.junit.jupiter.api.Test;

import java.sql.SQLException;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** How failures map to statuses; the database's state is a fake here, PostgresKillIT has the real one. */
class ApiExceptionMappersTest {

    private static ApiExceptionMappers mappers(boolean databaseAnswers) {
        ApiExceptionMappers m = new ApiExceptionMappers();
        m.databaseAnswers = () -> databaseAnswers;
        return m;
    }

    private static Exception cutMidCommit() {
        // what a commit cut by a killed PostgreSQL may throw: a rollback whose cause names no connection failure
        RollbackException rollback = new RollbackException("ARJUNA016053: Could not commit transaction.");
        return new IllegalStateException("commit failed", rollback);
    }

    @Test
    void aDatabaseLayerFailureIsA503WithRetryAfterWhenTheDatabaseDoesNotAnswer() {
        Response r = mappers(false).unexpected(cutMidCommit());
        assertEquals(503, r.getStatus());
        assertEquals(String.valueOf(ApiExceptionMappers.RETRY_AFTER_SECONDS), r.getHeaderString("Retry-After"));
        assertEquals("database_unavailable", ((ErrorBody) r.getEntity()).error());
    }

    @Test
    void theSameFailureIsA500WhenTheDatabaseAnswers() {
        Response r = mappers(true).unexpected(cutMidCommit());
        assertEquals(500, r.getStatus());
        assertEquals("internal_error", ((ErrorBody) r.getEntity()).error());
    }

    @Test
    void aConnectionFailureIsA503WithoutAskingTheDatabase() {
        ApiExceptionMappers m = new ApiExceptionMappers();
        m.databaseAnswers = () -> {
            throw new AssertionError("not asked: the error names the cause");
        };
        Response r = m.unexpected(new PersistenceException(new SQLException("I/O error", "08006")));
        assertEquals(503, r.getStatus());
    }

    @Test
    void aBugOutsideTheDatabaseLayerIsA500WithoutAskingTheDatabase() {
        ApiExceptionMappers m = new ApiExceptionMappers();
        m.databaseAnswers = () -> {
            throw new AssertionError("not asked: nothing came from the database");
        };
        assertEquals(500, m.unexpected(new NullPointerException("x")).getStatus());
        assertFalse(ApiExceptionMappers.fromDatabaseLayer(new IllegalArgumentException("y")));
        assertTrue(ApiExceptionMappers.fromDatabaseLayer(new PersistenceException("z")));
    }
}
