package io.denoise.auth;

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
}
