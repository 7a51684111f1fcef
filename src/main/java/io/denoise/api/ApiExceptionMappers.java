package io.denoise.api;

import io.denoise.jobs.JobStore;
import io.denoise.jobs.Quotas;
import io.denoise.jobs.SubmitBatcher;
import io.denoise.recipe.InvalidRequestException;
import io.denoise.storage.ImageStore;
import jakarta.inject.Inject;
import jakarta.ws.rs.NotFoundException;
import jakarta.ws.rs.WebApplicationException;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import org.jboss.logging.Logger;
import org.jboss.resteasy.reactive.server.ServerExceptionMapper;

import java.net.ConnectException;
import java.net.SocketTimeoutException;
import java.sql.SQLException;
import java.sql.SQLNonTransientConnectionException;
import java.sql.SQLRecoverableException;
import java.sql.SQLTransientConnectionException;
import java.sql.Connection;
import java.util.Locale;
import java.util.function.BooleanSupplier;
import javax.sql.DataSource;

/**
 * Maps failures to the API's error bodies: bad input is never a 500, and a database or image store that cannot be
 * reached is a quick 503 with {@code Retry-After}, never a hang.
 */
public class ApiExceptionMappers {

    private static final Logger LOG = Logger.getLogger(ApiExceptionMappers.class);
    /** What a 503 tells the client to wait before trying again. */
    static final int RETRY_AFTER_SECONDS = 5;

    @Inject
    DataSource dataSource;

    /** Whether PostgreSQL answers now: asked when a request failed in the database layer for no reason its error names. */
    BooleanSupplier databaseAnswers = this::probeDatabase;

    @ServerExceptionMapper
    public Response invalidField(InvalidRequestException e) {
        return json(Response.Status.BAD_REQUEST, ErrorBody.invalid(e.field(), e.rule()));
    }

    @ServerExceptionMapper
    public Response quotaExceeded(Quotas.QuotaExceededException e) {
        Response.Status status = e.overCapacity() ? Response.Status.SERVICE_UNAVAILABLE : Response.Status.TOO_MANY_REQUESTS;
        return Response.status(status).type(MediaType.APPLICATION_JSON_TYPE)
                .header("Retry-After", e.retryAfterSeconds()).entity(ErrorBody.of(e.error(), e.getMessage())).build();
    }

    @ServerExceptionMapper
    public Response submitQueueFull(SubmitBatcher.SubmitQueueFullException e) {
        return unavailable("submit_queue_full", e.getMessage());
    }

    @ServerExceptionMapper
    public Response idempotencyConflict(JobStore.IdempotencyConflictException e) {
        return json(Response.Status.CONFLICT, ErrorBody.of("idempotency_conflict", e.getMessage()));
    }

    @ServerExceptionMapper
    public Response notFound(NotFoundException e) {
        return json(Response.Status.NOT_FOUND, ErrorBody.of("not_found", e.getMessage()));
    }

    @ServerExceptionMapper
    public Response storage(ImageStore.StorageException e) {
        LOG.warn("image store unavailable", e);
        return unavailable("storage_unavailable", "the image store is unavailable; try again");
    }

    @ServerExceptionMapper
    public Response tooManySubscribers(EventHub.TooManySubscribersException e) {
        if (e.perJob()) {
            return Response.status(429).type(MediaType.APPLICATION_JSON_TYPE)
                    .header("Retry-After", RETRY_AFTER_SECONDS).entity(ErrorBody.of("too_many_streams", e.getMessage())).build();
        }
        return unavailable("too_many_streams", e.getMessage());
    }

    /**
     * Everything else: a database that cannot be reached is a 503; a framework error (405, 415, …) keeps its status
     * in the usual body; anything else is a 500 in the usual body, logged.
     */
    @ServerExceptionMapper
    public Response unexpected(Exception e) {
        if (e instanceof WebApplicationException w) {
            Response r = w.getResponse();
            int status = r.getStatus();
            if (status >= 500) {
                LOG.error("request failed", e);
            }
            String error = Response.Status.fromStatusCode(status) == null ? "http_" + status
                    : Response.Status.fromStatusCode(status).name().toLowerCase(Locale.ROOT);
            Response.ResponseBuilder out = Response.fromResponse(r).type(MediaType.APPLICATION_JSON_TYPE)
                    .entity(ErrorBody.of(error, w.getMessage()));
            return out.build();
        }
        if (isDatabaseUnavailable(e) || (fromDatabaseLayer(e) && !databaseAnswers.getAsBoolean())) {
            LOG.warnf("database unavailable: %s", rootMessage(e));
            return unavailable("database_unavailable", "the job database is unavailable; try again");
        }
        LOG.error("request failed", e);
        return json(Response.Status.INTERNAL_SERVER_ERROR, ErrorBody.of("internal_error", "the request failed"));
    }

    /**
     * Whether a failure comes from not reaching PostgreSQL: no connection from the pool in time, a refused or
     * timed-out connection, or a SQL state of class 08 (connection exception) or 57P (operator intervention).
     */
    static boolean isDatabaseUnavailable(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof SQLTransientConnectionException || t instanceof SQLNonTransientConnectionException
                    || t instanceof SQLRecoverableException || t instanceof ConnectException
                    || t instanceof SocketTimeoutException
                    || t.getClass().getName().equals("org.hibernate.exception.JDBCConnectionException")) {
                return true;
            }
            if (t instanceof SQLException sql) {
                String state = sql.getSQLState();
                if (state != null && (state.startsWith("08") || state.startsWith("57P"))) {
                    return true;
                }
                String message = sql.getMessage();
                if (message != null && (message.contains("Acquisition timeout") || message.contains("acquisition timeout"))) {
                    return true;
                }
            }
            String message = t.getMessage();
            if (message != null && message.contains("Unable to acquire JDBC Connection")) {
                return true;
            }
        }
        return false;
    }

    /**
     * Whether a failure came out of the database layer (JDBC, JPA, Hibernate or the transaction manager). A
     * connection cut in the middle of a commit surfaces as a rollback or a closed connection that names no cause
     * above, so such a failure is a 503 when the database does not answer a moment later, and a 500 when it does.
     */
    static boolean fromDatabaseLayer(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
            String name = t.getClass().getName();
            if (t instanceof SQLException || name.startsWith("jakarta.persistence.") || name.startsWith("org.hibernate.")
                    || name.startsWith("jakarta.transaction.") || name.startsWith("com.arjuna.")
                    || name.startsWith("io.agroal.")) {
                return true;
            }
        }
        return false;
    }

    private boolean probeDatabase() {
        try (Connection c = dataSource.getConnection()) {
            return c.isValid(1);
        } catch (SQLException | RuntimeException e) {
            return false;
        }
    }

    private static String rootMessage(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        return t.getClass().getSimpleName() + ": " + t.getMessage();
    }

    static Response unavailable(String error, String message) {
        return Response.status(Response.Status.SERVICE_UNAVAILABLE).type(MediaType.APPLICATION_JSON_TYPE)
                .header("Retry-After", RETRY_AFTER_SECONDS).entity(ErrorBody.of(error, message)).build();
    }

    static Response json(Response.Status status, ErrorBody body) {
        return Response.status(status).type(MediaType.APPLICATION_JSON_TYPE).entity(body).build();
    }
}
