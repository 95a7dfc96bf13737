// The SMS resend countdown every login and password page shows: a phone gets one code a
// minute, so the button waits as long as the server would.
import { onBeforeUnmount, ref } from "vue";

/** Seconds left before another code may be asked for, and `start` to begin waiting. */
export function useCountdown(seconds = 60) {
  const left = ref(0);
  let timer: ReturnType<typeof setInterval> | undefined;
  function start() {
    clearInterval(timer);
    left.value = seconds;
    timer = setInterval(() => {
      left.value -= 1;
      if (left.value <= 0) clearInterval(timer);
    }, 1000);
  }
  onBeforeUnmount(() => clearInterval(timer));
  return { left, start };
}
