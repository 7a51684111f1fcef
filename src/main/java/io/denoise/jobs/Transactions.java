package io.denoise.jobs;

import javax.sql.DataSource;
import java.sql.Connection;
import java.sql.SQLException;

/** Plain JDBC transactions, for the paths that need no ORM: one pooled connection, committed or rolled back. */
final class Transactions {

    private Transactions() {
    }

    /** Work done on a connection whose transaction is open. */
    @FunctionalInterface
    interface Work<T> {
        T on(Connection c) throws SQLException;
    }

    /**
     * Runs {@code work} in a transaction of its own: committed if it returns and {@code commit} is true, else rolled
     * back (a failure is thrown on, with any failure of the rollback suppressed in it).
     */
    static <T> T run(DataSource dataSource, boolean commit, Work<T> work) throws SQLException {
        try (Connection c = dataSource.getConnection()) {
            c.setAutoCommit(false);
            try {
                T result = work.on(c);
                if (commit) {
                    c.commit();
                } else {
                    c.rollback();
                }
                return result;
            } catch (SQLException | RuntimeException e) {
                try {
                    c.rollback();
                } catch (SQLException suppressed) {
                    e.addSuppressed(suppressed);
                }
                throw e;
            } finally {
                c.setAutoCommit(true);
            }
        }
    }
}
