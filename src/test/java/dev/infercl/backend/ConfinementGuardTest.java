package dev.infercl.backend;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The backends' one-thread-at-a-time check: a second thread is refused while one is inside, let in after it leaves. */
@Timeout(30)
class ConfinementGuardTest {

    @Test
    void aSecondThreadIsRefusedWhileTheFirstIsInsideAndLetInAfter() throws Exception {
        var guard = new ConfinementGuard("the test backend");
        var inside = new CountDownLatch(1);
        var leave = new CountDownLatch(1);
        Thread holder = Thread.ofPlatform().name("holder").start(() -> {
            guard.enter();
            try {
                inside.countDown();
                leave.await(20, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } finally {
                guard.exit();
            }
        });
        assertTrue(inside.await(20, TimeUnit.SECONDS));
        var e = assertThrows(IllegalStateException.class, guard::enter);
        assertTrue(e.getMessage().contains("the test backend") && e.getMessage().contains("'holder'")
                && e.getMessage().contains("'" + Thread.currentThread().getName() + "'"), e.getMessage());
        leave.countDown();
        holder.join();
        assertDoesNotThrow(guard::enter);
        guard.exit();
    }

    @Test
    void nestedEntriesOfOneThreadPassAndOnlyTheOutermostExitLetsOthersIn() throws Exception {
        var guard = new ConfinementGuard("the test backend");
        guard.enter();
        guard.enter();   // an op calling another op of the same backend
        guard.exit();
        Throwable[] seen = new Throwable[1];
        Thread other = Thread.ofPlatform().start(() -> seen[0] = catching(guard));
        other.join();
        assertTrue(seen[0] instanceof IllegalStateException, "still inside after the inner exit: " + seen[0]);
        guard.exit();
        other = Thread.ofPlatform().start(() -> seen[0] = catching(guard));
        other.join();
        assertTrue(seen[0] == null, "free after the outer exit: " + seen[0]);
    }

    @Test
    void exitWithoutEnterIsAnError() {
        assertThrows(IllegalStateException.class, new ConfinementGuard("x")::exit);
    }

    private static Throwable catching(ConfinementGuard guard) {
        try {
            guard.enter();
            guard.exit();
            return null;
        } catch (RuntimeException e) {
            return e;
        }
    }
}
