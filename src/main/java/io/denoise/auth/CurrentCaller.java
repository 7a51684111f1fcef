package io.denoise.auth;

import io.denoise.jobs.Priority;
import jakarta.enterprise.context.RequestScoped;

/** The caller of the request being served, set by the authentication filter before any resource runs. */
@RequestScoped
public class CurrentCaller {

    private Caller caller;

    public void set(Caller caller) {
        this.caller = caller;
    }

    public Caller get() {
        if (caller == null) {
            throw new IllegalStateException("no authenticated caller in this request");
        }
        return caller;
    }

    /** The caller's tenant: the owner of what it submits and the only one whose jobs it sees. */
    public String tenant() {
        return get().tenant();
    }

    /** The highest priority the caller's key lets its jobs ask for. */
    public Priority maxPriority() {
        return get().maxPriority();
    }
}
